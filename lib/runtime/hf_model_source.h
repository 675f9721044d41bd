// A Hugging Face model directory: config.json, safetensors (single or sharded), tokenizer.json or
// tokenizer.model (Tokenizer::open's choice).
// GPTQ and AWQ (GEMM) checkpoints are read too: their quantized linears are dequantized when asked for.
#pragma once
#include <optional>

#include "formats/awq_checkpoint.h"
#include "formats/safetensors.h"
#include "lib/runtime/model_source.h"

namespace mp {

class HfModelSource : public ModelSource {
 public:
  explicit HfModelSource(const std::string& dir);
  const ModelConfig& config() const override { return config_; }
  bool has(const std::string& name) const override;
  void release(const std::string& name) const override;
  at::Tensor tensor(const std::string& name) const override;
  std::optional<QuantizedLinear> quantized_linear(const std::string& name) const override;
  std::string quantization_method() const override { return gptq_ ? "GPTQ" : awq_ ? "AWQ" : ""; }
  Tokenizer tokenizer() const override;
  const std::string& path() const override { return dir_; }
  const SafetensorsCheckpoint& checkpoint() const { return checkpoint_; }

 private:
  std::string dir_;
  ModelConfig config_;
  SafetensorsCheckpoint checkpoint_;
  std::optional<GptqScheme> gptq_;
  std::optional<AwqScheme> awq_;
  // "model.layers.3.mlp.down_proj" for a quantized linear's "...down_proj.weight", else empty.
  std::string quantized_prefix(const std::string& name) const;
};

}  // namespace mp
