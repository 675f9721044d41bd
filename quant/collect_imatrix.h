// An importance matrix computed as llama-imatrix computes it: the token stream (with BOS) is cut into
// `ctx`-token chunks, each chunk's first token replaced by BOS, and every token of every chunk adds
// x² of each input column to the weights that input feeds (q, k and v share theirs). Weights are
// named as in GGUF ("blk.0.attn_q.weight"); the output matrix (input: the final normed hidden state)
// is collected only when asked, as with llama-imatrix --process-output.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "formats/imatrix_file.h"
#include "lib/runtime/llama_model.h"

namespace mp {

struct ImatrixOptions {
  int64_t ctx = 512;
  int64_t max_chunks = -1;  // -1: every whole chunk of the text
  bool process_output = false;
  std::string dataset;      // recorded as the calibration file's name
};

// How many chunks collect_imatrix uses for this many tokens; fails (bad input) when the text has
// fewer than two chunks, as llama-imatrix does.
int64_t imatrix_chunk_count(int64_t tokens, const ImatrixOptions& options, const std::string& text_path);

// One forward pass per chunk; on_chunk(chunks_done) after each. The result is in GGUF form
// (sums of x² and token counts), chunk_size = ctx.
ImportanceMatrix collect_imatrix(LlamaModel& model, const std::vector<int32_t>& tokens,
                                 const ImatrixOptions& options, const std::string& text_path,
                                 const std::function<void(int64_t)>& on_chunk = {});

}  // namespace mp
