#include "lib/runtime/runtime.h"

#include <ATen/Parallel.h>
#include <sched.h>

#include <thread>

#include "lib/base/error.h"
#include "lib/base/progress.h"

namespace mp {

namespace {

// The cores this process may run on: a batch scheduler (Slurm, taskset, a container's cpuset) gives
// a job fewer than the machine has, and threads beyond those only take turns.
int usable_cores() {
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0) return std::max(1, CPU_COUNT(&allowed));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

void set_cpu_threads(int threads) {
  if (threads < 0) fail_input("--threads", "must be 0 (all cores) or positive");
  at::set_num_threads(threads > 0 ? threads : usable_cores());
}

RuntimeOptions apply_runtime_settings(const RuntimeSettings& s) {
  set_cpu_threads(s.threads);
  Progress::set_quiet(s.quiet);
  return parse_runtime_options(s.device, s.dtype);
}

}  // namespace mp
