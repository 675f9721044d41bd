#include "lib/runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "formats/generation_config.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/runtime/kept_layers.h"

namespace mp {

bool is_end_token(const ModelConfig& config, const SamplingOptions& o, int32_t token) {
  if (o.end_tokens.empty()) return token == config.eos_token_id;
  return std::find(o.end_tokens.begin(), o.end_tokens.end(), token) != o.end_tokens.end();
}

void check_prompt(const ModelConfig& config, const std::vector<int32_t>& prompt) {
  if (prompt.empty()) fail_input("prompt", "is empty");
  const int64_t limit = config.max_position_embeddings;
  if (static_cast<int64_t>(prompt.size()) >= limit)
    fail_input("prompt", "is longer than the model's context (" + std::to_string(limit) + " tokens)");
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
  check_prompt(model.config(), prompt);
  const int64_t limit = model.config().max_position_embeddings;
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
    const int32_t next = sample_token(last, options, rng);
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
