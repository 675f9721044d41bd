#include "lib/runtime/rope.h"

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

at::Tensor base_inverse_frequencies(const ModelConfig& config, double theta) {
  const int64_t d = config.rotated_dims();
  at::Tensor exponents = at::arange(0, d, 2, at::kLong).to(at::kFloat) / static_cast<double>(d);
  return 1.0 / at::pow(theta, exponents);
}

at::Tensor base_inverse_frequencies(const ModelConfig& config) { return base_inverse_frequencies(config, config.rope_theta); }

// The full-attention layers' frequencies: every scaling the config names.
at::Tensor global_inverse_frequencies(const ModelConfig& config) {
  at::Tensor inv_freq = base_inverse_frequencies(config);
  if (config.llama3_rope) inv_freq = apply_llama3_scaling(inv_freq, *config.llama3_rope);
  if (!config.rope_freq_factors.empty()) inv_freq = inv_freq / at::tensor(config.rope_freq_factors);
  if (config.longrope) inv_freq = inv_freq / at::tensor(config.longrope->short_factor);
  return inv_freq / config.rope_linear_factor;
}

double attention_factor(const ModelConfig& config) { return config.longrope ? config.longrope->attention_factor : 1.0; }

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace

std::vector<float> llama3_rope_freq_factors(const ModelConfig& config) {
  const Llama3RopeScaling& s = config.llama3_rope.value();
  const double low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const double high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
  const at::Tensor freqs = base_inverse_frequencies(config);
  std::vector<float> factors;
  for (int64_t i = 0; i < freqs.size(0); ++i) {
    // One float32 element at a time, as the converter's Python loop over a float32 tensor does.
    const at::Tensor wavelen = 2 * M_PI / freqs[i];
    if (wavelen.item<float>() < static_cast<float>(high_wavelen)) {
      factors.push_back(1.0f);
    } else if (wavelen.item<float>() > static_cast<float>(low_wavelen)) {
      factors.push_back(static_cast<float>(s.factor));
    } else {
      const at::Tensor smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                                (s.high_freq_factor - s.low_freq_factor);
      factors.push_back((1 / ((1 - smooth) / s.factor + smooth)).item<float>());
    }
  }
  return factors;
}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config)
    : global_(global_inverse_frequencies(config), attention_factor(config)) {
  // gemma3's sliding layers: their own base, no scaling.
  if (config.rope_local_theta > 0) local_.emplace(base_inverse_frequencies(config, config.rope_local_theta));
  if (config.longrope) {
    long_.emplace(base_inverse_frequencies(config) / at::tensor(config.longrope->long_factor), attention_factor(config));
    long_from_ = config.longrope->original_max_position_embeddings;
  }
}

RotaryTable& RotaryEmbedding::table(bool sliding, int64_t end_pos) {
  if (sliding && local_) return *local_;
  return long_ && end_pos > long_from_ ? *long_ : global_;
}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, int64_t start_pos, bool sliding) {
  return table(sliding, start_pos + x.size(2)).apply(x, start_pos);
}

at::Tensor RotaryEmbedding::apply(const at::Tensor& x, const at::Tensor& positions, bool sliding) {
  if (!long_ || (sliding && local_)) return table(sliding, positions.max().item<int64_t>() + 1).apply(x, positions);
  // Under longrope each sequence takes the factors its own length selects, as it would alone.
  std::vector<at::Tensor> rows;
  for (int64_t b = 0; b < x.size(0); ++b)
    rows.push_back(table(sliding, positions[b].max().item<int64_t>() + 1)
                       .apply(x.narrow(0, b, 1), positions.narrow(0, b, 1)));
  return at::cat(rows, 0);
}

void RotaryTable::extend_to(int64_t positions, const at::Device& device) {
  if (cos_.defined() && cos_.size(0) >= positions && cos_.device() == device) return;
  const int64_t n = std::max<int64_t>(positions, cos_.defined() ? 2 * cos_.size(0) : 256);
  at::Tensor freqs = at::outer(at::arange(n, at::kFloat), inv_freq_);
  at::Tensor angles = at::cat({freqs, freqs}, -1);
  cos_ = (angles.cos() * scale_).to(device);
  sin_ = (angles.sin() * scale_).to(device);
}

at::Tensor RotaryTable::apply(const at::Tensor& x, int64_t start_pos) {
  const int64_t t = x.size(2);
  extend_to(start_pos + t, x.device());
  return rotate(x, cos_.narrow(0, start_pos, t), sin_.narrow(0, start_pos, t));
}

at::Tensor RotaryTable::apply(const at::Tensor& x, const at::Tensor& positions) {
  extend_to(positions.max().item<int64_t>() + 1, x.device());
  const at::Tensor rows = positions.flatten().to(x.device());
  const std::vector<int64_t> shape = {positions.size(0), 1, positions.size(1), cos_.size(1)};
  return rotate(x, cos_.index_select(0, rows).view(shape), sin_.index_select(0, rows).view(shape));
}

// cos and sin broadcast against x's [B, heads, T, rotated dims].
at::Tensor RotaryTable::rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const {
  at::Tensor xf = x.to(at::kFloat);
  const int64_t rotated = cos.size(-1);
  if (rotated == x.size(-1)) return (xf * cos + rotate_half(xf) * sin).to(x.scalar_type());
  const at::Tensor head = xf.narrow(-1, 0, rotated);
  return at::cat({head * cos + rotate_half(head) * sin, xf.narrow(-1, rotated, x.size(-1) - rotated)}, -1)
      .to(x.scalar_type());
}

}  // namespace mp
