// Text generation with a KV cache: greedy, or sampled with temperature, top-k and top-p from a
// seeded generator (same seed, same tokens).
#pragma once
#include <functional>
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
};

struct Generation {
  std::vector<int32_t> new_tokens;
  at::Tensor prompt_logits;  // [vocab] f32 at the last prompt position
  double prefill_seconds = 0, decode_seconds = 0;
};

Generation generate(LlamaModel& model, const std::vector<int32_t>& prompt, const SamplingOptions& options,
                    const std::function<void(int32_t)>& on_token = {});

}  // namespace mp
