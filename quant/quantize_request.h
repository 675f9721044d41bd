// What a resumed quantization run must share with the interrupted one: every option that changes
// the result, and a fingerprint of the inputs (the model's files, the calibration tokens).
#pragma once
#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "lib/runtime/model_source.h"
#include "quant/quantize_plan.h"

namespace mp {

// tokens: the calibration windows as sampled, so the corpus, seed, window count and length and the
// tokenizer are all covered by their hash.
nlohmann::json quantize_request(const ModelSource& source, const QuantizePlan& plan, const at::Tensor& tokens);

}  // namespace mp
