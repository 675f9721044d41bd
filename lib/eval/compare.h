// `modelpress compare`: several models evaluated on the same text against one reference, one row
// each: storage (lib/model_footprint.h), perplexity, KL divergence to the reference, speed. The
// numbers come from the evaluator `modelpress eval` uses (lib/perplexity.h).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/eval/model_footprint.h"
#include "lib/eval/perplexity.h"

namespace mp {

struct CompareRow {
  std::string name;  // the model's file or directory name
  std::string path;
  ModelFootprint footprint;
  PerplexityReport report;  // with a comparison to the reference
};

// Every model must tokenize the text exactly as the reference does (the same vocabulary), or the
// KL divergence would compare unrelated distributions: such a model is a bad-input error.
std::vector<CompareRow> compare_models(const std::string& reference, const std::vector<std::string>& models,
                                       const std::string& text, const PerplexityOptions& options,
                                       const RuntimeOptions& runtime);

std::string compare_table(const std::vector<CompareRow>& rows);
nlohmann::ordered_json compare_json(const std::vector<CompareRow>& rows);

}  // namespace mp
