#include "quant/hessian.h"

#include <algorithm>

#include "lib/base/error.h"

namespace mp {

HessianAccumulator::HessianAccumulator(int64_t in_features, at::ScalarType dtype)
    : h_(at::zeros({in_features, in_features}, dtype)) {
  if (dtype != at::kFloat && dtype != at::kDouble)
    fail_runtime("Hessian must be accumulated in f32 or f64");
}

void HessianAccumulator::add(const at::Tensor& x) {
  const int64_t in_features = h_.size(0);
  if (x.size(-1) != in_features)
    fail_runtime("Hessian input has " + std::to_string(x.size(-1)) + " features, expected " +
                 std::to_string(in_features));
  const at::Tensor tokens = x.reshape({-1, in_features}).to(h_.scalar_type());
  const int64_t batch = tokens.size(0);
  if (batch == 0) return;
  const int64_t total = tokens_ + batch;
  // H ← (n/(n+b))·H + (2/(n+b))·XᵀX: one BLAS call, no scaled copy of the batch.
  h_.addmm_(tokens.t(), tokens, static_cast<double>(tokens_) / total, 2.0 / total);
  tokens_ = total;
}

WeightedError hessian_weighted_error(const at::Tensor& w, const at::Tensor& w_hat, const at::Tensor& h) {
  constexpr int64_t kBlock = 1024;
  const int64_t in = h.size(0), out = w.size(0);
  WeightedError sums;
  for (int64_t j = 0; j < in; j += kBlock) {
    const int64_t columns = std::min(kBlock, in - j);
    const at::Tensor h_block = h.narrow(1, j, columns).to(at::kDouble);
    for (int64_t r = 0; r < out; r += kBlock) {
      const int64_t rows = std::min(kBlock, out - r);
      const at::Tensor wd = w.narrow(0, r, rows).to(at::kDouble);
      const at::Tensor delta = (w.narrow(0, r, rows) - w_hat.narrow(0, r, rows)).to(at::kDouble);
      sums.error += (at::matmul(delta, h_block) * delta.narrow(1, j, columns)).sum().item<double>();
      sums.reference += (at::matmul(wd, h_block) * wd.narrow(1, j, columns)).sum().item<double>();
    }
  }
  return sums;
}

}  // namespace mp
