// Copies of network weights in the layout a product reads, made once per weight
// tensor and reused while that tensor lives and is unchanged. A water box's
// register-blocked products read B by rows of outputs: ANI's later layers are
// stored [M, out, in] and its first layer's backward reads [D, M*h1] the other way,
// so each call used to copy every such matrix (2.5-3% of a 1k-atom box).
//
// An entry holds a weak reference to its source (the source's memory, and so its
// address, is not reused while the entry exists) and is valid only while the
// source's version counter, data pointer, sizes and strides are those it was
// copied from: an in-place change of a weight (training, a user's edit) is seen on
// the next call. Writes that bypass the version counter (through a NumPy view of
// the tensor, or from C++ through data_ptr) are not seen, as autograd does not see
// them either. Entries of freed weights are dropped at the next insertion.
// Inference tensors (no version counter) are copied on every call.
#pragma once

#include <torch/types.h>

namespace nnpkit {

enum class WeightLayout {
  kContiguous,  // weight.contiguous()
  kTransposed,  // weight.transpose(-2, -1).contiguous()
};

// `weight` in `layout`, from the cache where a valid copy is there; thread-safe.
torch::Tensor weight_in_layout(const torch::Tensor& weight, WeightLayout layout);

}  // namespace nnpkit
