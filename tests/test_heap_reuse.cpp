// keep_freed_memory_for_reuse: a large block comes from the heap, not from its own mmap. Checked in
// a forked child, since the setting lasts for the whole process and the other tests measure memory.
#include <catch2/catch.hpp>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "lib/base/heap_reuse.h"

namespace {

char* volatile escaped_block;  // keeps the compiler from eliding the allocation as unused

// In a child process: whether a freshly allocated 96 MiB block is served by a separate mmap
// (glibc's mallinfo2().hblkhd counts the bytes in such mappings).
bool block_is_mmapped_in_child(bool keep_for_reuse) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (keep_for_reuse) mp::keep_freed_memory_for_reuse();
    const size_t bytes = size_t{96} << 20;
    const size_t before = mallinfo2().hblkhd;
    char* block = static_cast<char*>(std::malloc(bytes));
    std::memset(block, 1, bytes);
    escaped_block = block;
    const bool mmapped = mallinfo2().hblkhd >= before + bytes;
    std::free(block);
    _exit(mmapped ? 10 : 11);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE((WEXITSTATUS(status) == 10 || WEXITSTATUS(status) == 11));
  return WEXITSTATUS(status) == 10;
}

}  // namespace

TEST_CASE("keep_freed_memory_for_reuse serves large blocks from the heap", "[heap_reuse]") {
  CHECK(block_is_mmapped_in_child(false));  // glibc's default: its own mapping, unmapped on free
  CHECK_FALSE(block_is_mmapped_in_child(true));
}
