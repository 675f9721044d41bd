// How much storage a model takes: bytes on disk and bits per weight, comparable across float
// checkpoints, GPTQ/AWQ checkpoints and GGUF files.
#pragma once
#include <cstdint>
#include <string>

#include "formats/hf_config.h"

namespace mp {

struct ModelFootprint {
  uint64_t file_bytes = 0;       // the files holding tensors (a GGUF file whole, vocabulary included)
  uint64_t linear_bytes = 0;     // tensors storing decoder linear weights, with their scales/zeros/g_idx
  int64_t parameters = 0;        // logical parameters, from the config (tied embeddings count once)
  int64_t linear_weights = 0;    // logical decoder linear weights (q k v o gate up down, no biases)
  double bits_per_weight() const;         // 8 * file_bytes / parameters
  double linear_bits_per_weight() const;  // 8 * linear_bytes / linear_weights
};

// `path` is what open_model accepts; `config` is the model's (its layer count and shapes).
ModelFootprint measure_footprint(const std::string& path, const ModelConfig& config);

}  // namespace mp
