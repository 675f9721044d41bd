// Rotary position embeddings in the HF "rotate half" layout that HF Llama checkpoints use.
#pragma once
#include <ATen/ATen.h>

#include <optional>

#include "formats/hf_config.h"

namespace mp {

// Llama 3.1 rope scaling as per-dimension divisors of the inverse frequencies ([head_dim/2]), computed
// as llama.cpp's convert_hf_to_gguf.py computes its rope_freqs tensor (float32 arithmetic).
std::vector<float> llama3_rope_freq_factors(const ModelConfig& config);

// The rotation of one kind of layer: its inverse frequencies and the cos/sin tables grown from them,
// scaled by `scale` (longrope's attention factor). It rotates the first 2·inv_freq.size(0) dimensions of
// each head (all but the tail that a partial_rotary_factor leaves as it is).
class RotaryTable {
 public:
  explicit RotaryTable(at::Tensor inv_freq, double scale = 1) : inv_freq_(std::move(inv_freq)), scale_(scale) {}
  at::Tensor apply(const at::Tensor& x, int64_t start_pos);
  at::Tensor apply(const at::Tensor& x, const at::Tensor& positions);  // positions [B, T] int64
  const at::Tensor& inverse_frequencies() const { return inv_freq_; }

 private:
  void extend_to(int64_t positions, const at::Device& device);
  at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const;
  at::Tensor inv_freq_;   // [rotated dims / 2], f32
  double scale_;
  at::Tensor cos_, sin_;  // [positions, head_dim], f32, grown on demand
};

class RotaryEmbedding {
 public:
  explicit RotaryEmbedding(const ModelConfig& config);
  // x: [B, heads, T, head_dim] for positions start_pos .. start_pos+T-1, rotated as a layer with or
  // without a sliding window rotates them (gemma3 gives the two their own base and scaling). Under
  // longrope a sequence reaching beyond original_max_position_embeddings takes the long factors, as
  // transformers decides per forward call.
  at::Tensor apply(const at::Tensor& x, int64_t start_pos, bool sliding = false);
  // The same with a position per sequence and step, positions [B, T] int64 (batched decoding of
  // sequences of different lengths).
  at::Tensor apply(const at::Tensor& x, const at::Tensor& positions, bool sliding = false);
  const at::Tensor& inverse_frequencies(bool sliding = false) const { return table(sliding, 0).inverse_frequencies(); }

 private:
  RotaryTable& table(bool sliding, int64_t end_pos);
  const RotaryTable& table(bool sliding, int64_t end_pos) const {
    return const_cast<RotaryEmbedding*>(this)->table(sliding, end_pos);
  }
  RotaryTable global_;
  std::optional<RotaryTable> local_;  // only when sliding layers rotate differently
  std::optional<RotaryTable> long_;   // longrope's long factors
  int64_t long_from_ = 0;             // sequences longer than this take long_
};

}  // namespace mp
