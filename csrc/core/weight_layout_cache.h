// Copies of network weights in the layout a product reads, made once per weight
// tensor and reused while that tensor lives and is unchanged. A water box's
// register-blocked products read B by rows of outputs: ANI's later layers are
// stored [M, out, in] and its first layer's backward reads [D, M*h1] the other way,
// so each call used to copy every such matrix (2.5-3% of a 1k-atom box).
//
// An entry holds weak references to its source's TensorImpl and StorageImpl (their
// objects, and so their addresses, are not reused while the entry exists) and is
// valid only while the source has that storage and the version counter, data
// pointer, dtype, sizes and strides it was copied from: an in-place change of a
// weight (training, a user's edit) or new data (`p.data = t`, Module.float()) is
// seen on the next call. Writes that bypass the version counter (through a NumPy view of
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
