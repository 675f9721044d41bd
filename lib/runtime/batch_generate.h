// Generation for many prompts at once: each prompt is prefilled on its own (exactly as generate()
// prefills it), then the sequences decode together, one token each per forward, from one KV cache
// in which shorter prompts are left-padded (LayerKVCache::left_pad). A sequence leaves the batch
// when it ends, so the batch shrinks instead of carrying finished rows.
#pragma once
#include <cstdint>
#include <vector>

#include "lib/runtime/generate.h"
#include "lib/runtime/kept_layers.h"

namespace mp {

struct Completion {
  std::vector<int32_t> tokens;  // the new tokens, without the end token
  bool ended = false;           // stopped at an end token (else at n-predict or the context)
};

// Where a batch's time went: the prompts' prefills, then the decoding loop (each step samples a
// token for every running sequence and runs one forward of them all).
struct BatchTimes {
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t decode_steps = 0, decoded_tokens = 0;  // forwards, and the tokens they ran (rows summed)
};

// For each prompt what generate() gives with options.seed = seeds[i]: the same tokens greedily
// (up to float rounding in batched matrix products), the same draws from the same generator when
// sampling, whatever the other prompts of the batch are.
std::vector<Completion> generate_batch(KeptLayers& layers, const std::vector<std::vector<int32_t>>& prompts,
                                       const SamplingOptions& options, const std::vector<uint64_t>& seeds,
                                       BatchTimes* times = nullptr);

}  // namespace mp
