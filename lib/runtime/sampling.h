// How a next token is chosen from logits: the sampling options, the distribution they define, and
// a seeded draw from it. Speculative decoding needs the distribution itself (p and q), not only a
// draw, so the two steps are separate.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <random>
#include <vector>

namespace mp {

struct SamplingOptions {
  int64_t max_new_tokens = 64;
  double temperature = 0;  // 0: greedy
  int64_t top_k = 40;      // 0: off
  double top_p = 0.95;     // 1: off
  uint64_t seed = 0;
  bool stop_at_eos = true;
  std::vector<int64_t> end_tokens;  // what stop_at_eos stops at; empty: the config's eos_token_id
};

// The next-token distribution [vocab] (f64, CPU) the options define over these logits [vocab]:
// softmax(logits / temperature) restricted to the top_k tokens, then to the smallest prefix of them
// whose mass reaches top_p, renormalized. Greedy (temperature 0): all mass on the argmax.
at::Tensor sampling_distribution(const at::Tensor& logits, const SamplingOptions& options);

// A token drawn from `probs` [vocab] (f64, sums to 1) with one uniform number from `rng`. Tokens
// are visited from the most likely down, so a seed picks the same token whatever the vocabulary order.
int32_t draw_token(const at::Tensor& probs, std::mt19937_64& rng);

// The next token from the logits at one position: a draw from their sampling distribution.
int32_t sample_token(const at::Tensor& logits, const SamplingOptions& options, std::mt19937_64& rng);

}  // namespace mp
