#include "quant/awq.h"

namespace mp {

std::vector<AwqGroupReport> apply_awq(const ModelConfig& config, DecoderLayerWeights& w, RotaryEmbedding& rope,
                                      std::map<std::string, at::Tensor> inputs, const GridForLinear& grid_for,
                                      const AwqOptions& options, const std::string& layer_name) {
  std::vector<AwqGroupReport> reports;
  for (const ScalingGroup& group : awq_scaling_groups(config)) {
    at::Tensor& x = inputs.at(group.input);
    const ScaleChoice choice = search_scales(config, w, rope, group, x, grid_for, options.scale);
    fold_scales(config, w, group, choice.scales);
    // Later steps (clipping) must see what the scaled linears read.
    x = scaled_inputs(config, group, x, choice.scales);
    reports.push_back({layer_name + " " + group.name, choice.alpha, choice.loss, choice.loss_at_zero});
  }
  if (!options.clip) return reports;
  for (const ScalingGroup& group : awq_scaling_groups(config))
    for (const auto& suffix : group.linears) {
      auto grid = grid_for(suffix);
      if (!grid || !awq_clips(suffix)) continue;
      at::Tensor& weight = w.linear(suffix);
      weight = clip_weights(weight, inputs.at(group.input), *grid, options.clipping);
    }
  return reports;
}

at::Tensor awq_search_states(const at::Tensor& states, int64_t search_tokens) {
  if (search_tokens <= 0) return states;
  const int64_t tokens_per_window = std::max<int64_t>(1, states.size(1));
  const int64_t windows = std::min(states.size(0), (search_tokens + tokens_per_window - 1) / tokens_per_window);
  return states.narrow(0, 0, std::max<int64_t>(1, windows));
}

nlohmann::ordered_json to_json(const AwqGroupReport& r) {
  return {{"group", r.group}, {"alpha", r.alpha}, {"loss", r.loss}, {"loss_at_alpha_0", r.loss_at_zero}};
}

}  // namespace mp
