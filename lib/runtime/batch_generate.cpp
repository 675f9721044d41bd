#include "lib/runtime/batch_generate.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "lib/base/error.h"

namespace mp {

namespace {

// One sequence of the batch while it decodes.
struct Sequence {
  size_t index;          // into the prompts
  int64_t position;      // of the next token
  at::Tensor logits;     // [vocab] at the last position
  std::mt19937_64 rng;
};

// The prompts' own caches side by side, each left-padded with zeros to the longest.
KVCache left_padded(const std::vector<KVCache>& caches, const std::vector<int64_t>& lengths) {
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  std::vector<int64_t> pads;
  for (int64_t length : lengths) pads.push_back(longest - length);
  KVCache batch(caches[0].size());
  for (size_t layer = 0; layer < batch.size(); ++layer) {
    std::vector<at::Tensor> ks, vs;
    for (size_t s = 0; s < caches.size(); ++s) {
      ks.push_back(at::constant_pad_nd(caches[s][layer].k, {0, 0, pads[s], 0}));
      vs.push_back(at::constant_pad_nd(caches[s][layer].v, {0, 0, pads[s], 0}));
    }
    batch[layer].k = at::cat(ks, 0);
    batch[layer].v = at::cat(vs, 0);
    batch[layer].left_pad = at::tensor(pads, at::kLong);
  }
  return batch;
}

// Keeps the cache rows of the sequences still running.
void keep_rows(KVCache& cache, const std::vector<int64_t>& rows) {
  const at::Tensor index = at::tensor(rows, at::kLong);
  for (LayerKVCache& layer : cache) {
    layer.k = layer.k.index_select(0, index.to(layer.k.device()));
    layer.v = layer.v.index_select(0, index.to(layer.v.device()));
    layer.left_pad = layer.left_pad.index_select(0, index);
  }
}

}  // namespace

std::vector<Completion> generate_batch(KeptLayers& layers, const std::vector<std::vector<int32_t>>& prompts,
                                       const SamplingOptions& options, const std::vector<uint64_t>& seeds,
                                       BatchTimes* times) {
  const ModelConfig& config = layers.model().config();
  const int64_t limit = config.max_position_embeddings;
  std::vector<Completion> out(prompts.size());
  if (prompts.empty()) return out;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  std::vector<Sequence> running;
  std::vector<KVCache> caches(prompts.size());
  std::vector<int64_t> lengths;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t length = static_cast<int64_t>(prompts[i].size());
    if (length == 0 || length >= limit) fail_runtime("generate_batch: prompt length out of range");
    const std::vector<int64_t> ids(prompts[i].begin(), prompts[i].end());
    at::Tensor logits = layers.forward(at::tensor(ids, at::kLong).unsqueeze(0), 0, caches[i]);
    running.push_back({i, length, logits[0][-1], std::mt19937_64(seeds.at(i))});
    lengths.push_back(length);
  }
  KVCache cache = left_padded(caches, lengths);
  caches.clear();
  const auto prefilled = Clock::now();
  BatchTimes counts;
  int64_t slot = *std::max_element(lengths.begin(), lengths.end());  // of the next token, in the padded cache
  // The loop of generate(), one step for every running sequence at once.
  for (int64_t n = 0; !running.empty(); ++n, ++slot) {
    std::vector<int64_t> next_tokens, rows;
    std::vector<Sequence> still_running;
    for (size_t r = 0; r < running.size(); ++r) {
      Sequence& s = running[r];
      Completion& c = out[s.index];
      if (n >= options.max_new_tokens || s.position >= limit) continue;
      const int32_t next = sample_token(s.logits, options, s.rng);
      if (options.stop_at_eos && is_end_token(config, options, next)) {
        c.ended = true;
        continue;
      }
      c.tokens.push_back(next);
      if (n + 1 == options.max_new_tokens) continue;
      next_tokens.push_back(next);
      rows.push_back(static_cast<int64_t>(r));
      ++s.position;
      still_running.push_back(std::move(s));
    }
    if (still_running.empty()) break;
    if (still_running.size() < running.size()) keep_rows(cache, rows);
    const at::Tensor logits = layers.forward(at::tensor(next_tokens, at::kLong).unsqueeze(1), slot, cache);
    for (size_t r = 0; r < still_running.size(); ++r) still_running[r].logits = logits[r][-1];
    running = std::move(still_running);
    ++counts.decode_steps;
    counts.decoded_tokens += static_cast<int64_t>(next_tokens.size());
  }
  if (times) {
    *times = counts;
    times->prefill_seconds = std::chrono::duration<double>(prefilled - start).count();
    times->decode_seconds = std::chrono::duration<double>(Clock::now() - prefilled).count();
  }
  return out;
}

}  // namespace mp
