// Copies of network weights in the layout a product reads, made once per weight
// tensor and reused while that tensor lives and is unchanged. A water box's
// register-blocked products read each member's matrices packed by groups of
// columns (thin_products.h), which the model's [M, out, in] and [D, M*h1] storage
// is not; copying them on every call cost 2.5-3% of a 1k-atom box.
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

#include <functional>

namespace nnpkit {

enum class WeightLayout {
  kPackedForward,   // each member's B of the forward's many-row products, packed
  kPackedBackward,  // and of the backward's
  // The same of a float32 copy, laid out for float64 products (widened on load).
  kPackedForwardWidened,
  kPackedBackwardWidened,
};

// `weight` in `layout`, from the cache where a valid copy is there, else as
// make(weight) returns it (the packing follows the vector width of the code that
// reads it, so the caller makes it); thread-safe.
torch::Tensor weight_in_layout(const torch::Tensor& weight, WeightLayout layout,
                               const std::function<torch::Tensor(const torch::Tensor&)>& make);

}  // namespace nnpkit
