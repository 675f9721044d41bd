// HF-style model (any ModelSource) -> llama.cpp GGUF v3, streamed one tensor at a time. The
// metadata keys, their types and order, the tokenizer arrays, tensor names and the q/k row layout
// follow llama.cpp's convert_hf_to_gguf.py; quantized file types follow llama-quantize's rules.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/gguf_export_plan.h"
#include "lib/model_source.h"

namespace mp {

struct GgufExportFallback {
  std::string tensor;
  GgmlType wanted, used;
  std::string why;
};

struct GgufExportSummary {
  std::string path, type;
  uint32_t file_type = 0;
  int64_t tensors = 0, weights = 0;
  uint64_t tensor_bytes = 0;  // data only, without header and padding
  std::vector<std::pair<std::string, int64_t>> tensors_per_type;  // "q4_K" -> count
  std::vector<GgufExportFallback> fallbacks;
  std::vector<std::string> notes;  // e.g. a GPTQ input is re-quantized from its dequantized weights
  double bits_per_weight() const { return weights ? 8.0 * tensor_bytes / weights : 0.0; }
  std::string to_text() const;
  nlohmann::json to_json() const;
};

struct GgufExportOptions {
  GgufExportType type = parse_gguf_export_type("F32", false);
  std::string name;  // general.name; empty: the source's file or directory name
};

// Fails (bad input) for model features llama.cpp's "llama" architecture cannot express here.
GgufExportSummary export_gguf(const ModelSource& source, const std::string& out_path,
                              const GgufExportOptions& options);

}  // namespace mp
