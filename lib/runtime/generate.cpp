#include "lib/runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "formats/generation_config.h"
#include "lib/base/error.h"
#include "lib/runtime/kept_layers.h"

namespace mp {

int32_t sample_token(const at::Tensor& logits, const SamplingOptions& o, std::mt19937_64& rng) {
  if (o.temperature <= 0) return static_cast<int32_t>(logits.argmax().item<int64_t>());
  at::Tensor scaled = logits.to(at::kDouble).cpu() / o.temperature;
  at::Tensor values, indices;
  const int64_t k = o.top_k > 0 ? std::min<int64_t>(o.top_k, scaled.size(0)) : scaled.size(0);
  std::tie(values, indices) = scaled.topk(k);  // sorted, largest first
  at::Tensor probs = at::softmax(values, 0);
  if (o.top_p < 1) {
    // Keep the smallest prefix whose mass reaches top_p (always at least one token).
    at::Tensor before = probs.cumsum(0) - probs;
    probs = probs.masked_fill(before >= o.top_p, 0);
    probs = probs / probs.sum();
  }
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  double u = uniform(rng), cumulative = 0;
  auto p = probs.accessor<double, 1>();
  for (int64_t i = 0; i < probs.size(0); ++i) {
    cumulative += p[i];
    if (u < cumulative) return static_cast<int32_t>(indices[i].item<int64_t>());
  }
  return static_cast<int32_t>(indices[0].item<int64_t>());
}

bool is_end_token(const ModelConfig& config, const SamplingOptions& o, int32_t token) {
  if (o.end_tokens.empty()) return token == config.eos_token_id;
  return std::find(o.end_tokens.begin(), o.end_tokens.end(), token) != o.end_tokens.end();
}

std::vector<int64_t> end_tokens(const ModelConfig& config, const std::string& model_path) {
  std::vector<int64_t> ids = eos_token_ids(config.raw, "config.json");
  if (ids.empty()) ids.push_back(config.eos_token_id);
  for (int64_t id : read_generation_config(model_path).eos_token_ids)
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  return ids;
}

Generation generate(LlamaModel& model, const std::vector<int32_t>& prompt, const SamplingOptions& options,
                    const std::function<void(int32_t)>& on_token) {
  if (prompt.empty()) fail_input("prompt", "is empty");
  const int64_t limit = model.config().max_position_embeddings;
  if (static_cast<int64_t>(prompt.size()) >= limit)
    fail_input("prompt", "is longer than the model's context (" + std::to_string(limit) + " tokens)");
  Generation g;
  std::mt19937_64 rng(options.seed);
  KVCache cache;
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  auto t0 = std::chrono::steady_clock::now();
  KeptLayers layers(model);
  at::Tensor logits = layers.forward(at::tensor(ids, at::kLong).unsqueeze(0), 0, cache);
  at::Tensor last = logits[0][-1];
  g.prompt_logits = last.cpu();
  auto t1 = std::chrono::steady_clock::now();
  int64_t position = static_cast<int64_t>(ids.size());
  for (int64_t n = 0; n < options.max_new_tokens && position < limit; ++n, ++position) {
    int32_t next = sample_token(last, options, rng);
    if (options.stop_at_eos && is_end_token(model.config(), options, next)) break;
    g.new_tokens.push_back(next);
    if (on_token) on_token(next);
    if (n + 1 == options.max_new_tokens) break;
    last = layers.forward(at::full({1, 1}, next, at::kLong), position, cache)[0][-1];
  }
  auto t2 = std::chrono::steady_clock::now();
  g.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  g.decode_seconds = std::chrono::duration<double>(t2 - t1).count();
  return g;
}

}  // namespace mp
