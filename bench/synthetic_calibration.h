// Synthetic calibration inputs for the GPTQ benchmarks: independent features of random scales plus
// a shared low-rank part, so H = 2XᵀX/tokens is correlated like real activations and positive
// definite. One sequence is generated at a time: only it and H are ever held.
#pragma once
#include <ATen/ATen.h>

#include <chrono>

#include "bench/bench_support.h"
#include "quant/hessian.h"

namespace mp::bench {

struct SyntheticHessian {
  at::Tensor h;
  at::Tensor last_batch;  // kept to compare output errors
  double accumulate_s = 0, generate_s = 0;
};

inline SyntheticHessian accumulate_synthetic_hessian(int64_t features, int64_t sequences, int64_t seqlen,
                                                     int64_t shared_rank = 64) {
  const at::Tensor feature_scale = at::rand({features}) * 2 + 0.05;
  const at::Tensor shared_basis = at::randn({shared_rank, features}) * 0.5;
  HessianAccumulator accumulator(features);
  SyntheticHessian timing;
  for (int64_t s = 0; s < sequences; ++s) {
    auto start = std::chrono::steady_clock::now();
    at::Tensor x = at::randn({seqlen, features}).mul_(feature_scale);
    x.addmm_(at::randn({seqlen, shared_rank}), shared_basis);
    timing.generate_s += seconds_since(start);
    start = std::chrono::steady_clock::now();
    accumulator.add(x);
    timing.accumulate_s += seconds_since(start);
    timing.last_batch = x;
  }
  timing.h = accumulator.matrix();
  return timing;
}

}  // namespace mp::bench
