#include "distill/prune_shape.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "lib/arch/architecture.h"
#include "lib/base/error.h"

namespace mp {

namespace {

int64_t checked_count(int64_t value, int64_t available, const char* option, const char* what) {
  if (value <= 0)
    fail_input(option, "must keep at least one " + std::string(what) + ", got " + std::to_string(value));
  if (value > available)
    fail_input(option, std::to_string(value) + " " + what + "s asked, but the model has only " + std::to_string(available));
  return value;
}

int64_t round_down(double value, int64_t step) {
  return std::max<int64_t>(step, static_cast<int64_t>(std::floor(value / static_cast<double>(step))) * step);
}

}  // namespace

PrunedShape full_shape(const ModelConfig& c) {
  return {c.num_layers, c.num_heads, c.num_kv_heads, c.intermediate_size, c.hidden_size};
}

ModelConfig pruned_config(const ModelConfig& c, const PrunedShape& shape, const std::vector<int64_t>& kept_layers) {
  nlohmann::json raw = c.raw;
  raw["num_hidden_layers"] = shape.layers;
  raw["hidden_size"] = shape.hidden;
  raw["intermediate_size"] = shape.ffn;
  raw["num_attention_heads"] = shape.heads;
  raw["num_key_value_heads"] = shape.kv_heads;
  raw["head_dim"] = c.head_dim;
  if (!c.sliding_layers.empty()) {  // each kept layer keeps its kind of attention
    raw["layer_types"] = nlohmann::json::array();
    for (int64_t i : kept_layers) raw["layer_types"].push_back(c.sliding_layers[i] ? "sliding_attention" : "full_attention");
  }
  return ModelConfig::from_json(raw, "pruned config");
}

int64_t pruned_parameter_count(const ModelConfig& c, const PrunedShape& shape) {
  std::vector<int64_t> first_layers(shape.layers);
  std::iota(first_layers.begin(), first_layers.end(), 0);
  const ModelConfig p = pruned_config(c, shape, first_layers);
  int64_t per_layer = 0;
  for (const LayerTensor& t : architecture_of(p).layer_tensors(p))
    per_layer += std::accumulate(t.shape.begin(), t.shape.end(), int64_t{1}, std::multiplies<>());
  const int64_t embeddings = p.vocab_size * p.hidden_size * (p.tie_word_embeddings ? 1 : 2);
  return embeddings + p.hidden_size + p.num_layers * per_layer;
}

PrunedShape choose_pruned_shape(const ModelConfig& c, const PruneTargets& targets) {
  if (c.fused_qkv || c.fused_gate_up)
    fail_input("--model", "structured pruning of fused qkv/gate_up linears (" + c.model_type + ") is not supported");
  PrunedShape s = full_shape(c);
  if (targets.layers) s.layers = checked_count(*targets.layers, c.num_layers, "--layers", "layer");
  if (targets.heads) {
    const int64_t group = c.num_heads / c.num_kv_heads;
    s.heads = checked_count(*targets.heads, c.num_heads, "--heads", "attention head");
    if (s.heads % group != 0)
      fail_input("--heads", std::to_string(s.heads) + " heads would split a KV group: whole groups of " +
                                std::to_string(group) + " query heads per KV head are removed, so give a multiple of " +
                                std::to_string(group));
    s.kv_heads = s.heads / group;
  }
  if (targets.ffn) s.ffn = checked_count(*targets.ffn, c.intermediate_size, "--ffn", "FFN channel");
  if (targets.hidden) s.hidden = checked_count(*targets.hidden, c.hidden_size, "--hidden", "hidden channel");
  if (!targets.target_params) return s;

  if (targets.ffn || targets.hidden)
    fail_input("--target-params", "chooses the FFN and hidden widths itself: give it or --ffn/--hidden, not both");
  const double asked = *targets.target_params;
  const int64_t total = pruned_parameter_count(c, full_shape(c));
  if (!(asked > 0) || !std::isfinite(asked))
    fail_input("--target-params", "must be a positive count or a fraction in (0, 1]");
  const double goal = asked <= 1 ? asked * static_cast<double>(total) : asked;
  if (goal > static_cast<double>(total))
    fail_input("--target-params", std::to_string(static_cast<int64_t>(goal)) + " is more than the model's " +
                                      std::to_string(total) + " parameters");
  const int64_t hidden_step = std::min(targets.align, c.hidden_size), ffn_step = std::min(targets.align, c.intermediate_size);
  auto scaled = [&](double r) {
    PrunedShape t = s;
    t.hidden = std::min(c.hidden_size, round_down(r * static_cast<double>(c.hidden_size), hidden_step));
    t.ffn = std::min(c.intermediate_size, round_down(r * static_cast<double>(c.intermediate_size), ffn_step));
    return t;
  };
  auto fits = [&](const PrunedShape& t) { return static_cast<double>(pruned_parameter_count(c, t)) <= goal; };
  if (!fits(scaled(0)))
    fail_input("--target-params", std::to_string(static_cast<int64_t>(goal)) + " parameters cannot be reached by width (the "
                                      "narrowest model, hidden and FFN " + std::to_string(hidden_step) + " wide, has " +
                                      std::to_string(pruned_parameter_count(c, scaled(0))) + "); add --layers or --heads");
  // The largest common factor that fits; the budget it leaves over widens the FFN.
  double lo = 0, hi = 1;
  for (int i = 0; i < 40; ++i) {
    const double mid = (lo + hi) / 2;
    (fits(scaled(mid)) ? lo : hi) = mid;
  }
  PrunedShape best = fits(scaled(1)) ? scaled(1) : scaled(lo);
  for (PrunedShape wider = best; wider.ffn + ffn_step <= c.intermediate_size;) {
    wider.ffn += ffn_step;
    if (!fits(wider)) break;
    best = wider;
  }
  return best;
}

}  // namespace mp
