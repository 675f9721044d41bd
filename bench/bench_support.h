// Small helpers every benchmark prints with: wall time, peak memory, and the machine's sgemm rate
// measured in the same process, so numbers from a busy or a quiet machine can be compared.
#pragma once
#include <ATen/ATen.h>
#include <sys/resource.h>

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

inline double sgemm_gflops(int64_t n) {
  const at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
  at::Tensor c = at::mm(a, b);  // warm-up: thread pool and page faults
  const auto start = std::chrono::steady_clock::now();
  c = at::mm(a, b);
  return 2.0 * n * n * n / seconds_since(start) / 1e9;
}

}  // namespace mp::bench
