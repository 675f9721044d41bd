#include "lib/base/heap_reuse.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mp {

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  constexpr int kOneGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kOneGiB);  // setting it also stops glibc's own adjustment of it
  mallopt(M_TRIM_THRESHOLD, kOneGiB);
#endif
}

}  // namespace mp
