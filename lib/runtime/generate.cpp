#include "lib/runtime/generate.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "formats/generation_config.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"

namespace mp {

namespace {

int32_t sample(const at::Tensor& logits, const SamplingOptions& o, std::mt19937_64& rng) {
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

// Decoding runs every layer once per token, where converting a quantized layer again each step
// costs more than the step (tinymix-10M Q4_K_M decoded at 6 instead of 63 tokens/s). So the layers
// converted for the prompt are kept for the whole generation, as many as fit in a quarter of the
// machine's memory; layers past that are converted on each step, as eval does, so a model whose
// f32 form does not fit still runs (docs/performance.md, "Memory of eval").
class KeptLayers {
 public:
  explicit KeptLayers(LlamaModel& model) : model_(model) {
    const int64_t budget = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / 4;
    // Decoder layers share one shape, so the first one's size says how many fit.
    DecoderLayerWeights first = model.load_layer(0);
    int64_t layer_bytes = 0;
    for (const LayerTensor& t : architecture_of(model.config()).layer_tensors(model.config()))
      layer_bytes += first.tensor(t.slot()).nbytes();
    const int64_t kept = std::min(model.config().num_layers, budget / std::max<int64_t>(layer_bytes, 1));
    if (kept > 0) layers_.push_back(std::move(first));
    for (int64_t i = 1; i < kept; ++i) layers_.push_back(model.load_layer(i));
  }

  at::Tensor forward(const at::Tensor& tokens, int64_t start_pos, KVCache& cache) {
    const ModelConfig& c = model_.config();
    cache.resize(c.num_layers);
    at::Tensor h = model_.embed(tokens);
    for (int64_t i = 0; i < c.num_layers; ++i)
      h = i < static_cast<int64_t>(layers_.size())
              ? decoder_layer_forward(c, layers_[i], model_.rope(), h, start_pos, &cache[i])
              : model_.run_layer(i, h, start_pos, &cache);
    return model_.logits(h);
  }

 private:
  LlamaModel& model_;
  std::vector<DecoderLayerWeights> layers_;
};

bool is_end(const ModelConfig& config, const SamplingOptions& o, int32_t token) {
  if (o.end_tokens.empty()) return token == config.eos_token_id;
  return std::find(o.end_tokens.begin(), o.end_tokens.end(), token) != o.end_tokens.end();
}

}  // namespace

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
    int32_t next = sample(last, options, rng);
    if (options.stop_at_eos && is_end(model.config(), options, next)) break;
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
