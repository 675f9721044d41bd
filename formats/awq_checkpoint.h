// AutoAWQ "GEMM" checkpoints (what AutoAWQ writes and transformers/vLLM load as quant_method
// "awq", version "gemm"): per quantized linear `qweight`, `qzeros`, `scales` (quant/pack_awq.h) and
// `bias`, config.json with a `quantization_config`. The format holds 4-bit codes only.
#pragma once
#include "formats/gptq_checkpoint.h"
#include "quant/pack_awq.h"

namespace mp {

class AwqCheckpointSink : public GptqCheckpointSink {
 public:
  // Fails (bad input) unless every module is quantized to 4 bits: the format has no other width.
  AwqCheckpointSink(const std::string& out_dir, const ModelConfig& config, const QuantizePlan& plan);

 protected:
  std::vector<std::pair<std::string, at::Tensor>> pack_linear(const std::string& module,
                                                              const QuantizedLinear& q) override;
  at::Tensor unpack_linear(const SafetensorsCheckpoint& checkpoint, const std::string& module, int64_t out_features,
                           int64_t in_features) const override;
  nlohmann::json quantization_config() const override;
};

// The quantization_config of an AWQ directory, as modelpress reads it.
struct AwqScheme {
  int64_t group_size = 128;
  static AwqScheme from_config(const nlohmann::json& quantization_config, const std::string& where);
};

// An AWQ linear read from `prefix`.{qweight,qzeros,scales}; output rows padded to a multiple of 8
// are cut off.
QuantizedLinear read_awq_linear(const SafetensorsCheckpoint& checkpoint, const std::string& prefix,
                                 const AwqScheme& scheme, int64_t out_features, int64_t in_features);

}  // namespace mp
