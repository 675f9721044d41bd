#include "quant/awq_clip.h"

#include "lib/base/error.h"
#include "quant/span_grid.h"

namespace mp {

bool awq_clips(const std::string& suffix) {
  return suffix != "self_attn.q_proj" && suffix != "self_attn.k_proj" && suffix != "self_attn.qkv_proj";
}

at::Tensor clip_weights(const at::Tensor& w, const at::Tensor& inputs, const Grid& grid, const AwqClipOptions& options) {
  if (options.steps < 1 || options.max_shrink <= 0 || options.max_shrink >= 1 || options.sample_tokens < 1)
    fail_input("--clip", "clipping needs steps >= 1, a max shrink in (0, 1) and a positive token sample");
  const int64_t in = w.size(1);
  // The columns whose parameters one choose() sets: a k-quant super-block, not one of its sub-blocks.
  const auto* span_grid = dynamic_cast<const SpanGrid*>(&grid);
  const int64_t size = span_grid ? span_grid->choose_span() : grid.group_size() == -1 ? in : grid.group_size();
  const at::Tensor weight = w.to(at::kFloat);
  // The token sample is taken before converting: the inputs may be every search token in bf16.
  at::Tensor x = inputs.reshape({-1, in});
  const int64_t step = std::max<int64_t>(1, x.size(0) / options.sample_tokens);
  x = x.slice(0, 0, x.size(0), step).slice(0, 0, options.sample_tokens).to(at::kFloat);

  std::vector<at::Tensor> clipped;
  for (int64_t begin = 0; begin < in; begin += size) {
    const int64_t len = std::min(size, in - begin);
    const at::Tensor wg = weight.narrow(1, begin, len);
    const at::Tensor xg = x.narrow(1, begin, len);
    const at::Tensor reference = at::matmul(xg, wg.t());  // [tokens, out]: this group's share of the output
    const at::Tensor max_abs = std::get<0>(wg.abs().max(1, /*keepdim=*/true));
    at::Tensor best_max = max_abs;
    at::Tensor best_error = at::full_like(max_abs, std::numeric_limits<double>::infinity());
    const int shrink_steps = static_cast<int>(options.max_shrink * options.steps);
    for (int i = 0; i < shrink_steps; ++i) {
      const at::Tensor limit = max_abs * (1.0 - static_cast<double>(i) / options.steps);
      const at::Tensor candidate = at::maximum(at::minimum(wg, limit), -limit);
      const GridParams params = grid.choose(candidate).for_columns(grid.sequential_groups(len));
      const at::Tensor dequantized = grid.dequantize(grid.quantize(candidate, params), params);
      const at::Tensor error = (at::matmul(xg, dequantized.t()) - reference).square().mean(0).unsqueeze(1);
      const at::Tensor better = error < best_error;
      best_error = at::where(better, error, best_error);
      best_max = at::where(better, limit, best_max);
    }
    clipped.push_back(at::maximum(at::minimum(wg, best_max), -best_max));
  }
  return at::cat(clipped, 1);
}

}  // namespace mp
