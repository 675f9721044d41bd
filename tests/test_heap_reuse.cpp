// keep_freed_memory_for_reuse: a large block comes from the heap, not from its own mmap, and
// return_freed_memory gives it back. Checked in forked children, since the setting lasts for the
// whole process and the other tests measure memory.
#include <catch2/catch.hpp>

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

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

// Resident bytes of this process (/proc/self/statm's second field, in pages).
size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// In a child process that keeps freed memory: whether a freed 96 MiB block stays resident until
// return_freed_memory (exit 10), or not (11: not kept; 12: not given back; 13: never resident).
int freed_block_returned_in_child() {
  const pid_t pid = fork();
  if (pid == 0) {
    mp::keep_freed_memory_for_reuse();
    const size_t bytes = size_t{96} << 20;
    const size_t before = resident_bytes();
    char* block = static_cast<char*>(std::malloc(bytes));
    std::memset(block, 1, bytes);
    escaped_block = block;
    char* above = static_cast<char*>(std::malloc(64));  // above it in the heap: no trim from the top
    const size_t used = resident_bytes();
    std::free(block);
    const size_t kept = resident_bytes();
    mp::return_freed_memory();
    const size_t returned = resident_bytes();
    escaped_block = above;
    if (used < before + (size_t{90} << 20)) _exit(13);  // the block was never resident: no test
    if (kept + (size_t{16} << 20) < used) _exit(11);
    _exit(returned + (size_t{80} << 20) <= kept ? 10 : 12);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

}  // namespace

TEST_CASE("keep_freed_memory_for_reuse serves large blocks from the heap", "[heap_reuse]") {
  CHECK(block_is_mmapped_in_child(false));  // glibc's default: its own mapping, unmapped on free
  CHECK_FALSE(block_is_mmapped_in_child(true));
}

TEST_CASE("return_freed_memory gives the heap's kept pages back", "[heap_reuse]") {
  CHECK(freed_block_returned_in_child() == 10);
}
