// The shape a structured pruning produces, and how it is chosen: explicit counts per axis (layers,
// attention heads, FFN width, hidden width) or a parameter budget that Minitron's width recipe
// meets (keep every layer and head, shrink hidden and FFN width by one common factor).
#pragma once
#include <cstdint>
#include <optional>

#include "formats/hf_config.h"

namespace mp {

// What the user asked for; an unset axis keeps the model's own size (or, with target_params, is
// chosen by it).
struct PruneTargets {
  std::optional<int64_t> layers, heads, ffn, hidden;
  // Parameters to keep: a count (> 1), or a fraction of the model's (0 < f <= 1).
  std::optional<double> target_params;
  int64_t align = 32;  // hidden and FFN widths the budget picks are multiples of this (GGUF blocks)
};

struct PrunedShape {
  int64_t layers = 0, heads = 0, kv_heads = 0, ffn = 0, hidden = 0;
};

// The model's own shape (nothing removed).
PrunedShape full_shape(const ModelConfig& config);

// Parameters of a model of `config` cut to `shape` (embeddings, LM head when untied, norms, every
// decoder tensor of the architecture).
int64_t pruned_parameter_count(const ModelConfig& config, const PrunedShape& shape);

// The shape the targets ask for. Bad input (one line, naming the option) when a count is zero,
// larger than the model's, leaves a partial KV group (GQA needs heads % kv_heads == 0, and only
// whole groups are removed), or when the budget cannot be met.
PrunedShape choose_pruned_shape(const ModelConfig& config, const PruneTargets& targets);

// `config` with the shape's sizes (num_hidden_layers, hidden_size, intermediate_size, the head
// counts, and head_dim written out, since hidden_size / heads no longer implies it); `kept_layers`
// are the original indices of the layers kept, for per-layer attention types.
ModelConfig pruned_config(const ModelConfig& config, const PrunedShape& shape,
                          const std::vector<int64_t>& kept_layers);

}  // namespace mp
