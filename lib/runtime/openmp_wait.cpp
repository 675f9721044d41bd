#include "lib/runtime/openmp_wait.h"

#include <unistd.h>

#include <cstdlib>

namespace mp {

void rerun_with_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  if (::setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // Only speed depends on the policy, so a failed exec (no /proc) is not worth stopping for.
}

}  // namespace mp
