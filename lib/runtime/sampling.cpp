#include "lib/runtime/sampling.h"

#include <algorithm>

namespace mp {

at::Tensor sampling_distribution(const at::Tensor& logits, const SamplingOptions& o) {
  at::Tensor scores = logits.to(at::kDouble).cpu();
  at::Tensor probs = at::zeros_like(scores);
  if (o.temperature <= 0) {
    probs[scores.argmax().item<int64_t>()] = 1.0;
    return probs;
  }
  const int64_t k = o.top_k > 0 ? std::min<int64_t>(o.top_k, scores.size(0)) : scores.size(0);
  at::Tensor values, indices;
  std::tie(values, indices) = (scores / o.temperature).topk(k);  // sorted, largest first
  at::Tensor kept = at::softmax(values, 0);
  if (o.top_p < 1) {
    // The smallest prefix whose mass reaches top_p (always at least one token).
    at::Tensor before = kept.cumsum(0) - kept;
    kept = kept.masked_fill(before >= o.top_p, 0);
    kept = kept / kept.sum();
  }
  return probs.index_copy_(0, indices, kept);
}

int32_t draw_token(const at::Tensor& probs, std::mt19937_64& rng) {
  const at::Tensor candidates = probs.nonzero().squeeze(1);
  at::Tensor sorted, rank;
  std::tie(sorted, rank) = probs.index_select(0, candidates).sort(/*dim=*/0, /*descending=*/true);
  const at::Tensor order = candidates.index_select(0, rank);
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  auto p = sorted.accessor<double, 1>();
  auto id = order.accessor<int64_t, 1>();
  double cumulative = 0;
  for (int64_t i = 0; i < sorted.size(0); ++i) {
    cumulative += p[i];
    if (u < cumulative) return static_cast<int32_t>(id[i]);
  }
  return static_cast<int32_t>(id[0]);  // rounding left u above the total: the most likely token
}

int32_t sample_token(const at::Tensor& logits, const SamplingOptions& options, std::mt19937_64& rng) {
  // Greedy decoding is the common case: the argmax, without a distribution over the whole vocabulary
  // built, searched and sorted for every token (a greedy draw's number from rng decides nothing).
  if (options.temperature <= 0) return static_cast<int32_t>(logits.argmax().item<int64_t>());
  return draw_token(sampling_distribution(logits, options), rng);
}

}  // namespace mp
