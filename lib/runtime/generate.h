// Text generation with a KV cache: greedy, or sampled with temperature, top-k and top-p from a
// seeded generator (same seed, same tokens).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "lib/runtime/llama_model.h"
#include "lib/runtime/sampling.h"

namespace mp {

struct Generation {
  std::vector<int32_t> new_tokens;
  at::Tensor prompt_logits;  // [vocab] f32 at the last prompt position
  double prefill_seconds = 0, decode_seconds = 0;
};

// Every end token of the model at `model_path`: config.json's eos_token_id (all of a list), then
// those its generation_config.json adds (a chat model's end of turn, e.g. Llama 3's <|eot_id|>).
std::vector<int64_t> end_tokens(const ModelConfig& config, const std::string& model_path);

// Whether `token` ends a generation with these options (their end_tokens, else the config's eos).
bool is_end_token(const ModelConfig& config, const SamplingOptions& options, int32_t token);
// Fails (bad input) on an empty prompt or one that leaves no room in the model's context.
void check_prompt(const ModelConfig& config, const std::vector<int32_t>& prompt);

Generation generate(LlamaModel& model, const std::vector<int32_t>& prompt, const SamplingOptions& options,
                    const std::function<void(int32_t)>& on_token = {});

}  // namespace mp
