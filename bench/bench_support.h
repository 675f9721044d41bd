// Small helpers every benchmark prints with: wall time, peak memory, and the machine's sgemm rate
// measured in the same process, so numbers from a busy or a quiet machine can be compared.
#pragma once
#include <ATen/ATen.h>
#include <sys/resource.h>
#include <time.h>

#include <chrono>

namespace mp::bench {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // Linux reports kilobytes
}

// CPU seconds of every thread of this process so far: on a busy machine a rate per CPU second
// says more about the code than one per wall second.
inline double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + t.tv_nsec * 1e-9;
}

struct SgemmRate {
  double per_wall_second = 0, per_cpu_second = 0;  // GFLOP
};

inline SgemmRate sgemm_rate(int64_t n) {
  const at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
  at::Tensor c = at::mm(a, b);  // warm-up: thread pool and page faults
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = process_cpu_seconds();
  c = at::mm(a, b);
  const double gflop = 2.0 * n * n * n / 1e9;
  return {gflop / seconds_since(start), gflop / (process_cpu_seconds() - cpu_start)};
}

inline double sgemm_gflops(int64_t n) { return sgemm_rate(n).per_wall_second; }

}  // namespace mp::bench
