// Perplexity with llama-perplexity's method: the token stream is cut into chunks of `ctx` tokens,
// each chunk starts with BOS, and only the second half of each chunk is scored (so every scored
// token sees at least ctx/2 tokens of context). With a reference model, the same chunks are run
// through both and llama-perplexity --kl-divergence's statistics are accumulated token by token,
// so no logits file is ever written.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lib/runtime/llama_model.h"
#include "lib/tokenizer/tokenizer.h"

namespace mp {

struct PerplexityOptions {
  int64_t ctx = 512;
  int64_t max_chunks = -1;     // -1: all
  int64_t chunks_per_batch = 4;
  // Each chunk's first token is replaced with this one, as llama-perplexity does with BOS when the
  // vocabulary adds BOS; -1: chunks are read as they fall; unset: the config's bos_token_id.
  std::optional<int32_t> chunk_start_token;
};

struct ComparisonStats {
  double reference_ppl = 0, reference_ppl_error = 0;
  double ppl_delta = 0, ppl_delta_error = 0;       // PPL(model) - PPL(reference)
  double ln_ppl_ratio = 0, ln_ppl_ratio_error = 0;  // mean ln(PPL(model)/PPL(reference))
  double kld_mean = 0, kld_mean_error = 0, kld_max = 0, kld_p999 = 0, kld_p99 = 0, kld_p90 = 0;
  double kld_median = 0, kld_p10 = 0, kld_min = 0;
  double same_top1_percent = 0, same_top1_error = 0;
  double delta_p_mean = 0, delta_p_rms = 0;         // p(model) - p(reference) of the true token
};

struct PerplexityReport {
  int64_t ctx = 0, chunks = 0, tokens_in_text = 0, tokens_scored = 0;
  double ppl = 0, ppl_error = 0;
  std::vector<double> running_ppl;  // after each chunk, as llama-perplexity prints them
  std::optional<ComparisonStats> comparison;
  std::string compute_type;  // what the model ran in: f32, bf16 or f16 (--dtype auto picks one)
  double seconds = 0;       // the whole evaluation, reference included
  double tokens_per_s = 0;  // forward throughput of the evaluated model alone

  nlohmann::ordered_json to_json() const;
  std::string to_text(bool print_chunks) const;
};

// What PerplexityOptions::chunk_start_token should be for text this tokenizer encoded.
inline int32_t chunk_start_token(const Tokenizer& tokenizer) { return tokenizer.adds_bos() ? tokenizer.bos_id() : -1; }

// How many chunks evaluate_perplexity will score for this many tokens (validates ctx).
int64_t perplexity_chunk_count(int64_t tokens, const PerplexityOptions& options, const ModelConfig& config);

// on_chunk(chunks_done) is called after each batch of chunks, for progress reporting.
PerplexityReport evaluate_perplexity(LlamaModel& model, const std::vector<int32_t>& tokens,
                                     const PerplexityOptions& options, LlamaModel* reference = nullptr,
                                     const std::function<void(int64_t)>& on_chunk = {});
// The same, with a progress bar (lib/progress.h) labelled `label` counting the chunks.
PerplexityReport evaluate_perplexity_with_progress(const std::string& label, LlamaModel& model,
                                                   const std::vector<int32_t>& tokens,
                                                   const PerplexityOptions& options, LlamaModel* reference = nullptr);

}  // namespace mp
