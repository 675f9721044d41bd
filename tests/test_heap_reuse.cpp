// keep_freed_memory_for_reuse: a large block comes from the heap, not from its own mmap.
// map_large_tensors_on_huge_pages: a large tensor is a mapping of its own, on huge-page boundaries,
// gone when the tensor is freed, or kept for the next tensor of its length while a
// ReuseFreedHugePages scope is open. Checked in forked children, since each setting lasts for the whole
// process and the other tests measure memory.
#include <catch2/catch.hpp>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>

#include <ATen/ATen.h>

#include "lib/base/heap_reuse.h"
#include "lib/base/huge_page_tensor.h"
#include "lib/base/sanitizers.h"

namespace {

// Runs `child` in a forked process and returns its exit code (the child ends with _exit(child())).
int exit_code_in_child(const std::function<int()>& child) {
  const pid_t pid = fork();
  if (pid == 0) _exit(child());
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

// glibc's allocator only: AddressSanitizer replaces malloc, and mallopt() does not reach it.
#ifndef MODELPRESS_ASAN
char* volatile escaped_block;  // keeps the compiler from eliding the allocation as unused

// In a child process: whether a freshly allocated 96 MiB block is served by a separate mmap
// (glibc's mallinfo2().hblkhd counts the bytes in such mappings).
bool block_is_mmapped_in_child(bool keep_for_reuse) {
  const int code = exit_code_in_child([&] {
    if (keep_for_reuse) mp::keep_freed_memory_for_reuse();
    const size_t bytes = size_t{96} << 20;
    const size_t before = mallinfo2().hblkhd;
    char* block = static_cast<char*>(std::malloc(bytes));
    std::memset(block, 1, bytes);
    escaped_block = block;
    const bool mmapped = mallinfo2().hblkhd >= before + bytes;
    std::free(block);
    return mmapped ? 10 : 11;
  });
  REQUIRE((code == 10 || code == 11));
  return code == 10;
}
#endif

// Resident bytes of this process (/proc/self/statm's second field, in pages).
size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// In a child process: exit 10 if, once large tensors are mapped on huge pages, a 64 MiB tensor
// starts on a 2 MiB boundary (glibc's blocks never do: their header comes first) and its pages are
// returned when it is freed, while a 1 MiB tensor still comes from LibTorch's default allocator.
int large_tensor_mapped_in_child() {
  return exit_code_in_child([] {
    constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
    mp::map_large_tensors_on_huge_pages();
    const size_t before = resident_bytes();
    at::Tensor large = at::ones({16 << 20}, at::kFloat);  // 64 MiB, touched
    const bool aligned = reinterpret_cast<uintptr_t>(large.data_ptr()) % kHugePage == 0;
    const size_t used = resident_bytes();
    large = at::Tensor();
    const size_t returned = resident_bytes();
    const at::Tensor small = at::ones({1 << 18}, at::kFloat);  // 1 MiB
    const bool small_aligned = reinterpret_cast<uintptr_t>(small.data_ptr()) % kHugePage == 0;
    if (!aligned) return 11;
    if (used < before + (size_t{60} << 20) || returned + (size_t{60} << 20) > used) return 12;
    return small_aligned ? 13 : 10;
  });
}

// In a child process: exit 10 if, inside a ReuseFreedHugePages scope of 128 MiB, a freed 64 MiB
// tensor is kept and serves the next 64 MiB tensor, a freed 160 MiB one (past the budget) is not
// kept, and the scope's end unmaps what it kept.
int freed_mapping_reused_in_child() {
  return exit_code_in_child([] {
    constexpr size_t kMiB = size_t{1} << 20;
    mp::map_large_tensors_on_huge_pages();
    size_t resident_with_kept = 0;
    {
      const mp::ReuseFreedHugePages reuse(128 * kMiB);
      at::Tensor first = at::ones({16 << 20}, at::kFloat);
      void* const block = first.data_ptr();
      first = at::Tensor();
      if (mp::kept_huge_page_bytes() != 64 * kMiB) return 11;
      at::Tensor second = at::empty({16 << 20}, at::kFloat);
      if (second.data_ptr() != block || mp::kept_huge_page_bytes() != 0) return 12;
      at::Tensor larger = at::ones({40 << 20}, at::kFloat);  // 160 MiB
      larger = at::Tensor();
      if (mp::kept_huge_page_bytes() != 0) return 13;
      second.fill_(1);
      second = at::Tensor();
      if (mp::kept_huge_page_bytes() != 64 * kMiB) return 14;
      resident_with_kept = resident_bytes();
    }
    if (mp::kept_huge_page_bytes() != 0 || resident_bytes() + 60 * kMiB > resident_with_kept) return 15;
    return 10;
  });
}

}  // namespace

#ifndef MODELPRESS_ASAN
TEST_CASE("keep_freed_memory_for_reuse serves large blocks from the heap", "[heap_reuse]") {
  CHECK(block_is_mmapped_in_child(false));  // glibc's default: its own mapping, unmapped on free
  CHECK_FALSE(block_is_mmapped_in_child(true));
}
#endif

TEST_CASE("map_large_tensors_on_huge_pages maps large tensors on their own and returns them", "[heap_reuse]") {
  CHECK(large_tensor_mapped_in_child() == 10);
}

TEST_CASE("ReuseFreedHugePages serves a freed mapping again, within its budget", "[heap_reuse]") {
  CHECK(freed_mapping_reused_in_child() == 10);
}
