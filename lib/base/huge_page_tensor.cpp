#include "lib/base/huge_page_tensor.h"

#include <ATen/EmptyTensor.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <cstdint>
#include <mutex>
#include <new>
#include <unordered_map>

#include "lib/base/error.h"

namespace mp {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// The live mappings by start, with their lengths: a block is freed by its pointer alone, as
// LibTorch's raw_deallocate (oneDNN's scratch buffers) frees it.
std::mutex mappings_mutex;
std::unordered_map<void*, size_t> mappings;

// Freed mappings kept for the next block of the same length while a ReuseFreedHugePages scope is
// open, up to its budget (under the same mutex).
std::unordered_multimap<size_t, void*> kept;
size_t kept_bytes = 0, keep_budget = 0;

void release(void* start) {
  size_t bytes = 0;
  {
    std::lock_guard<std::mutex> lock(mappings_mutex);
    const auto it = mappings.find(start);
    if (it != mappings.end()) {
      bytes = it->second;
      mappings.erase(it);
      if (kept_bytes + bytes <= keep_budget) {
        kept.emplace(bytes, start);
        kept_bytes += bytes;
        return;
      }
    }
  }
  if (bytes) ::munmap(start, bytes);
  else c10::GetDefaultCPUAllocator()->raw_deleter()(start);  // a small block: the default's
}

// A kept mapping of exactly `rounded` bytes, registered as live again; null when there is none.
void* reuse_kept(size_t rounded) {
  std::lock_guard<std::mutex> lock(mappings_mutex);
  const auto it = kept.find(rounded);
  if (it == kept.end()) return nullptr;
  void* start = it->second;
  kept.erase(it);
  kept_bytes -= rounded;
  mappings[start] = rounded;
  return start;
}

// Blocks of at least `min_bytes` on their own huge-page mapping; smaller ones from LibTorch's
// default CPU allocator (never from whatever allocator is installed: that may be this one).
class HugePageAllocator final : public c10::Allocator {
 public:
  explicit HugePageAllocator(size_t min_bytes) : min_bytes_(min_bytes) {}
  c10::DataPtr allocate(size_t bytes) const override {
    if (bytes < min_bytes_) return c10::GetDefaultCPUAllocator()->allocate(bytes);
    // Map one huge page more than needed and unmap the ends, so the block starts on a 2 MiB
    // boundary and every one of its pages can be a huge page.
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    if (void* start = reuse_kept(rounded)) return {start, start, &release, c10::Device(c10::DeviceType::CPU)};
    void* mapped = ::mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    auto* base = static_cast<char*>(mapped);
    char* start = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) & ~(kHugePage - 1));
    if (start > base) ::munmap(base, start - base);
    if (char* end = start + rounded; end < base + rounded + kHugePage) ::munmap(end, base + rounded + kHugePage - end);
    ::madvise(start, rounded, MADV_HUGEPAGE);  // no huge pages (EINVAL): still a working block
    {
      std::lock_guard<std::mutex> lock(mappings_mutex);
      mappings[start] = rounded;
    }
    return {start, start, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

 private:
  size_t min_bytes_;
};

HugePageAllocator huge_page_allocator(kHugePage);
// Rounding up to whole huge pages wastes at most a fifth of a block this large.
HugePageAllocator large_tensor_allocator(4 * kHugePage);

}  // namespace

at::Tensor empty_on_huge_pages(at::IntArrayRef sizes, at::ScalarType dtype, bool column_major) {
  const c10::DispatchKeySet cpu(c10::DispatchKey::CPU);
  if (!column_major) return at::detail::empty_generic(sizes, &huge_page_allocator, cpu, dtype, c10::nullopt);
  if (sizes.size() != 2) fail_runtime("empty_on_huge_pages: column-major needs a matrix");
  return at::detail::empty_strided_generic(sizes, {1, sizes[0]}, &huge_page_allocator, cpu, dtype);
}

void map_large_tensors_on_huge_pages() {
  // Above the default's priority (0), so that LibTorch's CPU tensors are allocated here.
  c10::SetAllocator(c10::DeviceType::CPU, &large_tensor_allocator, /*priority=*/1);
}

ReuseFreedHugePages::ReuseFreedHugePages(size_t budget_bytes) {
  std::lock_guard<std::mutex> lock(mappings_mutex);
  if (keep_budget != 0) fail_runtime("ReuseFreedHugePages: scopes do not nest");
  keep_budget = budget_bytes;
}

ReuseFreedHugePages::~ReuseFreedHugePages() {
  std::unordered_multimap<size_t, void*> unmap;
  {
    std::lock_guard<std::mutex> lock(mappings_mutex);
    keep_budget = 0;
    kept_bytes = 0;
    unmap.swap(kept);
  }
  for (const auto& [bytes, start] : unmap) ::munmap(start, bytes);
}

size_t kept_huge_page_bytes() {
  std::lock_guard<std::mutex> lock(mappings_mutex);
  return kept_bytes;
}

}  // namespace mp
