#include "lib/runtime/thread_waits.h"

#include <unistd.h>

#include <cstdlib>
#include <utility>

namespace mp {

bool set_passive_thread_waits() {
  bool changed = false;
  for (const auto& [name, value] : {std::pair{"OMP_WAIT_POLICY", "PASSIVE"}, std::pair{"OPENBLAS_THREAD_TIMEOUT", "4"}}) {
    if (std::getenv(name) != nullptr) continue;
    if (::setenv(name, value, 1) != 0) return changed;
    changed = true;
  }
  return changed;
}

void rerun_with_passive_thread_waits(char** argv) {
  if (!set_passive_thread_waits()) return;
  ::execv("/proc/self/exe", argv);
  // Only speed depends on the waits, so a failed exec (no /proc) is not worth stopping for.
}

}  // namespace mp
