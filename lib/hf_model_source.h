// A Hugging Face model directory: config.json, safetensors (single or sharded), tokenizer.model.
#pragma once
#include "formats/safetensors.h"
#include "lib/model_source.h"

namespace mp {

class HfModelSource : public ModelSource {
 public:
  explicit HfModelSource(const std::string& dir);
  const ModelConfig& config() const override { return config_; }
  bool has(const std::string& name) const override { return checkpoint_.has(name); }
  at::Tensor tensor(const std::string& name) const override;
  Tokenizer tokenizer() const override;
  const std::string& path() const override { return dir_; }
  const SafetensorsCheckpoint& checkpoint() const { return checkpoint_; }

 private:
  std::string dir_;
  ModelConfig config_;
  SafetensorsCheckpoint checkpoint_;
};

}  // namespace mp
