// What an export will write, before any tensor data: the metadata block, every tensor with its
// planned ggml type, and the importance matrix as llama-quantize reads it. The exporter writes this
// layout; the size-targeted allocation (formats/gguf_size_target.h) prices it.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_export.h"
#include "formats/gguf_value.h"

namespace mp {

struct PlannedTensor {
  LlamaTensorName name;
  std::vector<int64_t> shape;
  TensorTypeChoice type;
  int64_t numel() const;
  uint64_t bytes() const;  // of type.used
};

// The importance matrix as llama-quantize reads it, with the metadata keys it adds to the file.
struct LoadedImatrix {
  std::map<std::string, std::vector<float>> importance;
  std::vector<std::pair<std::string, GgufValue>> metadata;
};
LoadedImatrix load_imatrix(const std::string& path);  // empty path: an empty matrix

// A weight's importance vector, looked up by its GGUF name as llama-quantize does. A weight without an
// entry is quantized without one; a wrong-sized entry is an error except for token_embd, which
// llama-quantize skips because a tied output's entry has the other dimension.
const float* importance_for(const LoadedImatrix& imatrix, const std::string& path, const PlannedTensor& t);

struct GgufExportLayout {
  std::vector<std::pair<std::string, GgufValue>> metadata;
  std::vector<PlannedTensor> tensors;                     // in file order
  std::map<std::string, std::vector<float>> generated;    // tensors computed from config.json (rope)
  int64_t parameters = 0;
  uint64_t file_bytes() const;  // exactly what GgufWriter will write
};

// Fails (bad input) for an architecture or model GGUF cannot hold.
GgufExportLayout plan_gguf_export(const ModelSource& source, const GgufExportOptions& options,
                                  const LoadedImatrix& imatrix);

}  // namespace mp
