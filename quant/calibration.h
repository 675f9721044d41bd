// Calibration samples for quantization: random windows of `seqlen` tokens from a text, as the GPTQ
// and AWQ reference code draws them, reproducible from a seed.
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "lib/tokenizer/tokenizer.h"

namespace mp {

struct CalibrationOptions {
  std::string file;        // empty: the built-in default corpus
  std::string tokenizer;   // a tokenizer directory or file (--tokenizer); empty: the model's own
  int64_t samples = 128;
  int64_t seqlen = 0;      // 0: min(2048, the model's context)
  uint64_t seed = 0;
};

// The window length to use: `requested`, or min(2048, context) when it is 0; a length beyond the
// model's context is bad input (--seqlen).
int64_t calibration_seqlen(int64_t requested, int64_t context);

// The built-in default: Moby Dick, fetched by scripts/fetch-data.sh ($MODELPRESS_DATA overrides).
std::string default_calibration_file();

// [samples, seqlen] int64 token windows; every window starts with BOS when the tokenizer adds one,
// as the evaluator's chunks do (llama-perplexity's rule).
at::Tensor sample_calibration(const Tokenizer& tokenizer, const CalibrationOptions& options);

}  // namespace mp
