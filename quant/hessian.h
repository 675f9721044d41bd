// The GPTQ Hessian of a linear layer's reconstruction error: H = 2/n Σ x xᵀ over the n calibration
// tokens seen so far. Kept as a running average, as the reference GPTQ code does, so H stays of
// order 1 whatever the number of tokens and batches can arrive one at a time.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace mp {

class HessianAccumulator {
 public:
  // dtype: at::kFloat or at::kDouble, the precision H is accumulated in.
  explicit HessianAccumulator(int64_t in_features, at::ScalarType dtype = at::kFloat);

  // x: [..., in_features] inputs of the layer; every leading index is one token.
  void add(const at::Tensor& x);

  const at::Tensor& matrix() const { return h_; }  // [in, in]
  int64_t tokens() const { return tokens_; }

 private:
  at::Tensor h_;
  int64_t tokens_ = 0;
};

}  // namespace mp
