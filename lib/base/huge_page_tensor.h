// Large CPU tensors backed by transparent huge pages.
//
// A fresh block above glibc's mmap threshold (32 MiB at most) is new memory from the kernel, and
// every 4 KiB page of it faults on first touch. On the 2-core development VM a fault costs about
// 20 µs: 0.3 CPU s to first touch a 64 MiB matrix (a 4096² f32 Hessian), about as long as LAPACK
// takes to factorize it. Mapped with MADV_HUGEPAGE the same 64 MiB faults 32 times, in 0.006 CPU s
// (measured, docs/performance.md "GPTQ against its flop bound"). Used for the few [n, n] and
// [out, in] work matrices of GPTQ, which are allocated once per layer.
#pragma once
#include <ATen/ATen.h>

namespace mp {

// An uninitialised CPU tensor; blocks of at least 2 MiB are mapped on their own and advised
// MADV_HUGEPAGE (the kernel honours it when transparent huge pages are "always" or "madvise"),
// smaller ones come from LibTorch's allocator. Contiguous, or column-major [rows, columns] when
// `column_major` (strides (1, rows)), what LAPACK works on.
at::Tensor empty_on_huge_pages(at::IntArrayRef sizes, at::ScalarType dtype, bool column_major = false);

// For the rest of the process, every CPU tensor of at least 8 MiB is mapped on its own, advised
// MADV_HUGEPAGE, and unmapped when freed. A loop whose large blocks change size from round to
// round (the quantizer's layers: calibration batches, captured inputs, Hessians, attention blocks)
// then neither faults every 4 KiB of them each time (glibc's own mappings) nor fragments a heap
// that keeps them (keep_freed_memory_for_reuse held 3 GiB of freed blocks at the 1B model's peak).
void map_large_tensors_on_huge_pages();

// While one is alive, a freed mapping (of either function above) is kept, up to `budget_bytes` in
// all, and serves the next block of the same rounded length; at its end the kept ones are unmapped.
// For loops that allocate the same large temporaries round after round (AWQ's 20 trial scales of
// a group, the quantizer's calibration batches): every fresh mapping is zeroed by the kernel on
// first touch, and in the 1B AWQ search that zeroing (clear_page_erms) was 45 % of the process's
// CPU samples (docs/performance.md).
// Scoped, because kept blocks add to the peak: kept for a whole eval they raised it past its bound.
class ReuseFreedHugePages {
 public:
  explicit ReuseFreedHugePages(size_t budget_bytes);
  ~ReuseFreedHugePages();
  ReuseFreedHugePages(const ReuseFreedHugePages&) = delete;
  ReuseFreedHugePages& operator=(const ReuseFreedHugePages&) = delete;
};

// Bytes of freed mappings kept for reuse right now.
size_t kept_huge_page_bytes();

}  // namespace mp
