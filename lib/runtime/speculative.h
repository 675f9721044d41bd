// Speculative decoding (Leviathan et al. 2023; Chen et al. 2023): a small draft model proposes k
// tokens one at a time, the target scores all of them in one forward pass over k+1 positions, and
// a rejection step keeps a prefix of the proposals plus one token of the target's own, so the
// output has exactly the target's distribution (greedy: exactly the target's greedy tokens).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "lib/runtime/generate.h"
#include "lib/tokenizer/tokenizer.h"

namespace mp {

struct SpeculativeGeneration {
  Generation generation;     // prompt_logits: the target's; decode_seconds covers every round
  int64_t target_passes = 0;  // verification forwards of the target
  int64_t drafted = 0, accepted = 0;
};

// Fails (bad input, naming `draft_path`) unless a token id means the same to both models: equal
// vocabulary sizes, and the same piece for every id in their tokenizers.
void check_draft_vocabulary(const std::string& draft_path, const ModelConfig& target, const ModelConfig& draft,
                            const Tokenizer& target_tokenizer, const Tokenizer& draft_tokenizer);
// The size half of that check, for callers without tokenizers.
void check_draft_vocabulary(const std::string& draft_path, const ModelConfig& target, const ModelConfig& draft);

// Generates with `target`'s distribution under `options`, `draft_tokens` (k >= 1) proposals per
// target pass. p and q are both sampling_distribution(logits, options), so temperature, top-k and
// top-p shape the draft's proposals exactly as they shape the target's choices.
SpeculativeGeneration generate_speculative(LlamaModel& target, LlamaModel& draft, const std::vector<int32_t>& prompt,
                                           const SamplingOptions& options, int64_t draft_tokens,
                                           const std::function<void(int32_t)>& on_token = {});

}  // namespace mp
