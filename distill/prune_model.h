// Cutting a model down to chosen units: which ones survive (the most important, see
// prune_importance.h), and the smaller dense model of the same architecture that keeps exactly
// their weights, written as an HF directory.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "distill/prune_importance.h"
#include "distill/prune_shape.h"
#include "lib/runtime/model_source.h"

namespace mp {

// Original indices of what survives, each list ascending; ffn and groups follow `layers`.
struct KeptUnits {
  std::vector<int64_t> layers;
  std::vector<std::vector<int64_t>> ffn, groups;  // FFN channels, KV groups of each kept layer
  std::vector<int64_t> hidden;
};

KeptUnits choose_kept_units(const ModelConfig& config, const PruneImportance& importance, const PrunedShape& shape);

// An HF directory at `out`, whole or not at all: config.json (pruned_config), model.safetensors in
// the source's stored float type, the tokenizer and generation files copied, `report` as
// prune_report.json, and manifest.json.
void write_pruned_model(const ModelSource& source, const PrunedShape& shape, const KeptUnits& kept,
                        const nlohmann::json& report, const std::string& out);

}  // namespace mp
