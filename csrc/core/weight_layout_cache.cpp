#include "core/weight_layout_cache.h"

#include <c10/util/intrusive_ptr.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace nnpkit {
namespace {

using WeakTensorImpl = c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>;

// The source's identity at the time of the copy. The weak references keep the
// TensorImpl and StorageImpl objects (not the storage's memory) from being freed,
// so their addresses identify them: `p.data = t` (and Module.float() or .double())
// keeps the TensorImpl and its version but gives it t's StorageImpl, and a freed
// buffer's address may come back for the next allocation.
struct Entry {
  WeakTensorImpl source;
  c10::weak_intrusive_ptr<c10::StorageImpl> storage;
  uint32_t version;
  const void* data;
  c10::ScalarType dtype;
  std::vector<int64_t> sizes, strides;
  torch::Tensor copy;
};

struct Cache {
  std::mutex mutex;
  std::map<std::pair<const c10::TensorImpl*, WeightLayout>, Entry> entries;
};

Cache& cache() {
  static Cache instance;
  return instance;
}

bool matches(const Entry& entry, const torch::Tensor& weight, uint32_t version) {
  return !entry.source.expired() && !entry.storage.expired() &&
         entry.storage._unsafe_get_target() == weight.storage().unsafeGetStorageImpl() && entry.version == version &&
         entry.data == weight.data_ptr() && entry.dtype == weight.scalar_type() &&
         weight.sizes().equals(entry.sizes) && weight.strides().equals(entry.strides);
}

}  // namespace

torch::Tensor weight_in_layout(const torch::Tensor& weight, WeightLayout layout,
                               const std::function<torch::Tensor(const torch::Tensor&)>& make) {
  if (weight.is_inference() || !weight.has_storage()) return make(weight);
  const uint32_t version = weight.unsafeGetTensorImpl()->version_counter().current_version();
  const auto key = std::make_pair(static_cast<const c10::TensorImpl*>(weight.unsafeGetTensorImpl()), layout);
  Cache& c = cache();
  {
    const std::lock_guard<std::mutex> lock(c.mutex);
    const auto found = c.entries.find(key);
    if (found != c.entries.end() && matches(found->second, weight, version)) return found->second.copy;
  }
  // Copied outside the lock (another thread may copy the same weight meanwhile:
  // the same values, the later insertion wins).
  torch::Tensor copy = make(weight);
  // A weight already in the layout comes back as itself or a view: nothing to keep
  // (a strong reference to the source would keep it alive).
  if (copy.storage().is_alias_of(weight.storage())) return copy;
  const std::lock_guard<std::mutex> lock(c.mutex);
  for (auto it = c.entries.begin(); it != c.entries.end();) {
    it = it->second.source.expired() || it->second.storage.expired() ? c.entries.erase(it) : std::next(it);
  }
  c.entries.insert_or_assign(key, Entry{WeakTensorImpl(weight.getIntrusivePtr()), weight.storage().getWeakStorageImpl(),
                                        version, weight.data_ptr(), weight.scalar_type(), weight.sizes().vec(),
                                        weight.strides().vec(), copy});
  return copy;
}

}  // namespace nnpkit
