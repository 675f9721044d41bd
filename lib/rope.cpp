#include "lib/rope.h"

#include <cmath>

namespace mp {

namespace {

// Llama 3.1: long wavelengths are stretched by `factor`, short ones kept, the band between them
// interpolated smoothly.
at::Tensor apply_llama3_scaling(const at::Tensor& inv_freq, const Llama3RopeScaling& s) {
  const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
  at::Tensor wavelen = 2 * M_PI / inv_freq;
  at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq / s.factor, inv_freq);
  at::Tensor smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                      (s.high_freq_factor - s.low_freq_factor);
  at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  at::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
  return at::where(medium, smoothed, scaled);
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config) {
  const int64_t d = config.head_dim;
  at::Tensor exponents = at::arange(0, d, 2, at::kLong).to(at::kFloat) / static_cast<double>(d);
  inv_freq_ = 1.0 / at::pow(config.rope_theta, exponents);
  if (config.llama3_rope) inv_freq_ = apply_llama3_scaling(inv_freq_, *config.llama3_rope);
}

void RotaryEmbedding::extend_to(int64_t positions, const at::Device& device) {
  if (cos_.defined() && cos_.size(0) >= positions && cos_.device() == device) return;
  const int64_t n = std::max<int64_t>(positions, cos_.defined() ? 2 * cos_.size(0) : 256);
  at::Tensor freqs = at::outer(at::arange(n, at::kFloat), inv_freq_);
  at::Tensor angles = at::cat({freqs, freqs}, -1);
  cos_ = angles.cos().to(device);
  sin_ = angles.sin().to(device);
}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, int64_t start_pos) {
  const int64_t t = x.size(2);
  extend_to(start_pos + t, x.device());
  at::Tensor cos = cos_.narrow(0, start_pos, t), sin = sin_.narrow(0, start_pos, t);
  at::Tensor xf = x.to(at::kFloat);
  return (xf * cos + rotate_half(xf) * sin).to(x.scalar_type());
}

}  // namespace mp
