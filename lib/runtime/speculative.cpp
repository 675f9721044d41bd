#include "lib/runtime/speculative.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "lib/base/error.h"
#include "lib/runtime/kept_layers.h"

namespace mp {

void check_draft_vocabulary(const std::string& draft_path, const ModelConfig& target, const ModelConfig& draft) {
  if (draft.vocab_size != target.vocab_size)
    fail_input(draft_path, "the draft's vocabulary has " + std::to_string(draft.vocab_size) +
                               " tokens, the target's " + std::to_string(target.vocab_size) +
                               ": a draft must share the target's tokenizer");
}

void check_draft_vocabulary(const std::string& draft_path, const ModelConfig& target, const ModelConfig& draft,
                            const Tokenizer& target_tokenizer, const Tokenizer& draft_tokenizer) {
  check_draft_vocabulary(draft_path, target, draft);
  if (draft_tokenizer.vocab_size() != target_tokenizer.vocab_size())
    fail_input(draft_path, "the draft's tokenizer has " + std::to_string(draft_tokenizer.vocab_size()) +
                               " pieces, the target's " + std::to_string(target_tokenizer.vocab_size()));
  for (int32_t id = 0; id < target_tokenizer.vocab_size(); ++id)
    if (draft_tokenizer.piece(id) != target_tokenizer.piece(id))
      fail_input(draft_path, "the draft's tokenizer differs from the target's (token " + std::to_string(id) + ")");
}

namespace {

at::Tensor token_tensor(const std::vector<int64_t>& ids, size_t from, size_t to) {
  return at::tensor(std::vector<int64_t>(ids.begin() + from, ids.begin() + to), at::kLong).unsqueeze(0);
}

// The token the target chooses where it rejected draft token x: a draw from norm(max(0, p - q)).
// When p equals q to rounding (then x is rejected only by rounding), p itself.
int32_t draw_correction(const at::Tensor& p, const at::Tensor& q, std::mt19937_64& rng) {
  at::Tensor residual = (p - q).clamp_min(0);
  const double mass = residual.sum().item<double>();
  return draw_token(mass > 0 ? residual / mass : p, rng);
}

}  // namespace

SpeculativeGeneration generate_speculative(LlamaModel& target, LlamaModel& draft, const std::vector<int32_t>& prompt,
                                           const SamplingOptions& options, int64_t draft_tokens,
                                           const std::function<void(int32_t)>& on_token) {
  if (draft_tokens < 1) fail_input("--draft-k", "must be at least 1");
  check_prompt(target.config(), prompt);
  check_draft_vocabulary("draft", target.config(), draft.config());
  const int64_t limit = std::min(target.config().max_position_embeddings, draft.config().max_position_embeddings);
  if (static_cast<int64_t>(prompt.size()) >= limit) fail_input("prompt", "is longer than the draft's context");
  SpeculativeGeneration s;
  Generation& g = s.generation;
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  auto t0 = std::chrono::steady_clock::now();
  KeptLayers target_layers(target), draft_layers(draft);
  // Between rounds both caches hold at most every token but the last; each pass feeds what is missing.
  KVCache target_cache, draft_cache;
  if (ids.size() > 1) {
    target_layers.forward(token_tensor(ids, 0, ids.size() - 1), 0, target_cache);
    draft_layers.forward(token_tensor(ids, 0, ids.size() - 1), 0, draft_cache);
  }
  auto t1 = std::chrono::steady_clock::now();
  bool done = false;
  while (!done && static_cast<int64_t>(g.new_tokens.size()) < options.max_new_tokens) {
    const int64_t n = static_cast<int64_t>(ids.size());
    if (n >= limit) break;
    // Each round commits up to k+1 tokens; the last of them must still fit the count and the context.
    const int64_t remaining = options.max_new_tokens - static_cast<int64_t>(g.new_tokens.size());
    const int64_t k = std::min({draft_tokens, remaining - 1, limit - n - 1});

    std::vector<int64_t> proposed;
    std::vector<at::Tensor> q;
    if (k > 0) {
      const int64_t have = cache_length(draft_cache);
      at::Tensor logits = draft_layers.forward(token_tensor(ids, have, n), have, draft_cache)[0][-1];
      for (int64_t i = 0; i < k; ++i) {
        q.push_back(sampling_distribution(logits, options));
        proposed.push_back(draw_token(q.back(), rng));
        if (i + 1 < k) logits = draft_layers.forward(at::full({1, 1}, proposed.back(), at::kLong), n + i, draft_cache)[0][-1];
      }
    }

    std::vector<int64_t> verified = {ids.back()};
    verified.insert(verified.end(), proposed.begin(), proposed.end());
    const at::Tensor target_logits = target_layers.forward(token_tensor(verified, 0, verified.size()), n - 1, target_cache)[0];
    if (s.target_passes++ == 0) g.prompt_logits = target_logits[0].cpu();

    std::vector<int32_t> committed;
    for (int64_t i = 0; i <= k; ++i) {
      const at::Tensor p = sampling_distribution(target_logits[i], options);
      if (i == k) {
        committed.push_back(draw_token(p, rng));
        break;
      }
      const int64_t x = proposed[i];
      const double ratio = p[x].item<double>() / q[i][x].item<double>();
      if (uniform(rng) < ratio) {
        committed.push_back(static_cast<int32_t>(x));
        continue;
      }
      committed.push_back(draw_correction(p, q[i], rng));
      break;
    }
    s.drafted += k;
    s.accepted += static_cast<int64_t>(committed.size()) - 1;

    for (int32_t token : committed) {
      if (options.stop_at_eos && is_end_token(target.config(), options, token)) {
        done = true;
        break;
      }
      ids.push_back(token);
      g.new_tokens.push_back(token);
      if (on_token) on_token(token);
    }
    truncate_cache(target_cache, static_cast<int64_t>(ids.size()) - 1);
    truncate_cache(draft_cache, static_cast<int64_t>(ids.size()) - 1);
  }
  auto t2 = std::chrono::steady_clock::now();
  g.prefill_seconds = std::chrono::duration<double>(t1 - t0).count();
  g.decode_seconds = std::chrono::duration<double>(t2 - t1).count();
  return s;
}

}  // namespace mp
