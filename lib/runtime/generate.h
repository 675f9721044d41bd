// Text generation with a KV cache: greedy, or sampled with temperature, top-k and top-p from a
// seeded generator (same seed, same tokens).
#pragma once
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "lib/runtime/llama_model.h"

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

struct Generation {
  std::vector<int32_t> new_tokens;
  at::Tensor prompt_logits;  // [vocab] f32 at the last prompt position
  double prefill_seconds = 0, decode_seconds = 0;
};

// Every end token of the model at `model_path`: config.json's eos_token_id (all of a list), then
// those its generation_config.json adds (a chat model's end of turn, e.g. Llama 3's <|eot_id|>).
std::vector<int64_t> end_tokens(const ModelConfig& config, const std::string& model_path);

// The next token from the logits at one position ([vocab]): the argmax at temperature 0, else a
// draw from rng after temperature, top-k and top-p.
int32_t sample_token(const at::Tensor& logits, const SamplingOptions& options, std::mt19937_64& rng);
// Whether generating `token` ends the text (options.end_tokens, else the config's eos_token_id).
bool is_end_token(const ModelConfig& config, const SamplingOptions& options, int32_t token);

Generation generate(LlamaModel& model, const std::vector<int32_t>& prompt, const SamplingOptions& options,
                    const std::function<void(int32_t)>& on_token = {});

}  // namespace mp
