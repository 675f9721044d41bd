// How good a draft model is for speculative decoding with a target, measured teacher-forced over a
// text: how often the draft's next-token choice is one the target accepts, what a decode step of
// each model costs here, and the speedup both predict for k drafted tokens per target pass.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/runtime/llama_model.h"

namespace mp {

struct AcceptanceOptions {
  int64_t ctx = 0;               // tokens per chunk; 0: the shorter of the two contexts
  int64_t max_tokens = -1;       // of the text; -1: all
  int32_t chunk_start_token = -1;  // each chunk's first token becomes this (BOS); -1: chunks as they fall
  double temperature = 1;        // of the sampled acceptance
  int64_t max_draft_tokens = 8;  // the table's k = 1..this
  int64_t timing_repeats = 24;   // timed passes per cost (the median is reported)
};

struct SpeedupRow {
  int64_t k = 0;
  double greedy_tokens_per_pass = 0, greedy_speedup = 0;
  double sampled_tokens_per_pass = 0, sampled_speedup = 0;
  double verify_cost = 0;                 // a target pass over k+1 positions, in target decode steps
  double greedy_speedup_measured_verify = 0;  // greedy_tokens_per_pass / (k·c + verify_cost)
};

struct DraftAcceptance {
  int64_t positions = 0;
  double temperature = 1;
  double greedy_agreement = 0;    // fraction of positions where both argmaxes are equal
  double sampled_acceptance = 0;  // mean over positions of 1 - TV(p, q) = E_{x~q}[min(1, p(x)/q(x))]
  double target_step_seconds = 0, draft_step_seconds = 0;  // CPU seconds of the process, all threads
  double cost_ratio = 0;          // c = draft step / target step
  std::vector<SpeedupRow> rows;

  nlohmann::ordered_json to_json() const;
  std::string to_text() const;
};

// Leviathan et al. (2023) under their i.i.d. model (every drafted token accepted with probability
// alpha, independently): expected tokens per target pass (1 - alpha^(k+1)) / (1 - alpha), and the
// wall-time speedup that over the cost of one round, k draft steps of cost c plus one target pass.
double expected_tokens_per_pass(double alpha, int64_t k);
double predicted_speedup(double alpha, int64_t k, double cost_ratio);

DraftAcceptance measure_draft_acceptance(LlamaModel& target, LlamaModel& draft, const std::vector<int32_t>& tokens,
                                         const AcceptanceOptions& options);

}  // namespace mp
