#include "lib/base/huge_page_tensor.h"

#include <ATen/EmptyTensor.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <cstdint>
#include <new>

#include "lib/base/error.h"

namespace mp {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

struct Mapping {
  void* start;
  size_t bytes;
};

void unmap(void* context) {
  const auto* mapping = static_cast<Mapping*>(context);
  ::munmap(mapping->start, mapping->bytes);
  delete mapping;
}

class HugePageAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) const override {
    if (bytes < kHugePage) return c10::GetCPUAllocator()->allocate(bytes);
    // Map one huge page more than needed and unmap the ends, so the block starts on a 2 MiB
    // boundary and every one of its pages can be a huge page.
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* mapped = ::mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    auto* base = static_cast<char*>(mapped);
    char* start = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(base) + kHugePage - 1) & ~(kHugePage - 1));
    if (start > base) ::munmap(base, start - base);
    if (char* end = start + rounded; end < base + rounded + kHugePage) ::munmap(end, base + rounded + kHugePage - end);
    ::madvise(start, rounded, MADV_HUGEPAGE);  // no huge pages (EINVAL): still a working block
    return {start, new Mapping{start, rounded}, &unmap, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }
};

HugePageAllocator huge_page_allocator;

}  // namespace

at::Tensor empty_on_huge_pages(at::IntArrayRef sizes, at::ScalarType dtype, bool column_major) {
  const c10::DispatchKeySet cpu(c10::DispatchKey::CPU);
  if (!column_major) return at::detail::empty_generic(sizes, &huge_page_allocator, cpu, dtype, c10::nullopt);
  if (sizes.size() != 2) fail_runtime("empty_on_huge_pages: column-major needs a matrix");
  return at::detail::empty_strided_generic(sizes, {1, sizes[0]}, &huge_page_allocator, cpu, dtype);
}

}  // namespace mp
