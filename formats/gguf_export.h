// HF-style model (any ModelSource) -> llama.cpp GGUF v3, streamed one tensor at a time. The
// metadata keys, their types and order, the tokenizer arrays, tensor names and the q/k row layout
// follow llama.cpp's convert_hf_to_gguf.py; quantized file types follow llama-quantize's rules.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "formats/gguf_export_plan.h"
#include "formats/gguf_type_allocation.h"
#include "lib/runtime/model_source.h"

namespace mp {

struct GgufExportFallback {
  std::string tensor;
  GgmlType wanted, used;
  std::string why;
};

// How a quantized linear of a GPTQ/AWQ input reached the file: its codes kept (lossless, or with
// q4_1's minimum rounded to fp16) or re-quantized from its dequantized weights, and why.
struct GgufCodeOrigin {
  std::string tensor;
  bool kept_codes = false;
  double max_error = 0;  // max |file value − checkpoint value| when the codes were kept
  std::string why_not;   // when they were not
  std::string describe(const std::string& method) const;  // "lossless from GPTQ", "re-quantized (...)"
};

struct GgufExportSummary {
  std::string path, type;
  uint32_t file_type = 0;
  int64_t tensors = 0, weights = 0;
  uint64_t tensor_bytes = 0;  // data only, without header and padding
  uint64_t file_bytes = 0;    // the whole file
  std::optional<GgufTypeAllocation> allocation;  // a size-targeted mix: every allocated tensor's type and loss
  std::vector<std::pair<std::string, int64_t>> tensors_per_type;  // "q4_K" -> count
  std::vector<GgufExportFallback> fallbacks;
  std::string quantized_input;               // "GPTQ", "AWQ" or empty
  std::vector<GgufCodeOrigin> code_origins;  // one per quantized linear of such an input
  std::string imatrix;                       // the importance matrix file, if one was given
  std::vector<std::string> without_importance;  // quantized tensors it has no entry for
  double bits_per_weight() const { return weights ? 8.0 * tensor_bytes / weights : 0.0; }
  std::string to_text() const;
  nlohmann::json to_json() const;
};

struct GgufExportOptions {
  GgufExportType type = parse_gguf_export_type("F32", false);
  std::string name;  // general.name; empty: the source's file or directory name
  std::string pre;   // tokenizer.ggml.pre of a byte-level BPE vocabulary; empty: detected as llama.cpp's converter does
  // An importance matrix (legacy .dat or GGUF) used as llama-quantize --imatrix uses it: each weight
  // quantized with its entry's importance, weights without one (token_embd) without.
  std::string imatrix;
  // false (--provenance manifest): the file holds no general.modelpress.* keys, so its header is
  // llama.cpp's own; the record is only in FILE.manifest.json, which pins the file by its sha256
  // (docs/provenance.md). Needs a file output: a stream has no manifest.
  bool provenance_keys = true;
  // A GGUF file whose stored block parameters are kept for every k-quant tensor it holds in the
  // type this export gives it: those tensors are levelled on them (formats/gguf_stored_grids.h)
  // instead of searched. Empty: every tensor searched.
  std::string grid_from;
  // With grid_from: per super-block, the better of those stored parameters and the search's own
  // (better_grid_per_block), as `distill-train --grid hybrid` rounds.
  bool grid_from_per_block_better = false;
  // --target-bpw / --target-size: each 2-D weight's type chosen to minimise the importance-weighted
  // quantization error under the byte budget (formats/gguf_size_target.h); `type` then only labels
  // the file (general.file_type) and its overrides pin the tensors they name.
  GgufSizeTarget target;
  std::optional<GgufTypeAllocation> allocation;  // filled from `target` (once) by allocate_size_target
};

// Architectures llama and mistral (as llama.cpp's "llama") and qwen2; llama3 rope scaling becomes
// llama.cpp's rope_freqs tensor. Fails (bad input) for sliding-window attention.
GgufExportSummary export_gguf(const ModelSource& source, const std::string& out_path,
                              const GgufExportOptions& requested);

}  // namespace mp
