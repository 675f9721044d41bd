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

// Σ over tokens of ‖(W − Ŵ)x‖² and of ‖Wx‖², computed from the inputs' Hessian H as tr(ΔW H ΔWᵀ)
// and tr(W H Wᵀ), in f64, a block of H's columns and of W's rows at a time (an f64 copy of
// down_proj's whole H would be 1 GB for a 7B model). Terms of disjoint row ranges add up.
struct WeightedError {
  double error = 0, reference = 0;
  double relative() const { return reference > 0 ? error / reference : 0; }
  WeightedError& operator+=(const WeightedError& other) {
    error += other.error;
    reference += other.reference;
    return *this;
  }
};
WeightedError hessian_weighted_error(const at::Tensor& w, const at::Tensor& w_hat, const at::Tensor& h);

}  // namespace mp
