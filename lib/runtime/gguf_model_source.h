// A llama.cpp GGUF file of an architecture in lib/arch/ as a model source: config from the
// <arch>.* keys (and rope_freqs.weight), tensors under their HF names (llama q/k rows back
// in HF's rotate-half order, quantized types decoded to f32), and a SentencePiece tokenizer rebuilt
// from tokenizer.ggml.*.
#pragma once
#include "formats/gguf_file.h"
#include "formats/gguf_llama_names.h"
#include "lib/runtime/model_source.h"

namespace mp {

class GgufModelSource : public ModelSource {
 public:
  explicit GgufModelSource(const std::string& path);
  const ModelConfig& config() const override { return config_; }
  bool has(const std::string& name) const override { return names_.count(name) > 0; }
  at::Tensor tensor(const std::string& name) const override;
  // f32 and bf16 are decoded straight from the blocks; other types cast from f32.
  at::Tensor tensor_as(const std::string& name, at::ScalarType dtype) const override;
  at::Tensor tensor_rows(const std::string& name, const at::Tensor& indices, at::ScalarType dtype) const override;
  Tokenizer tokenizer() const override;
  const std::string& path() const override { return file_.path(); }
  const GgufFile& file() const { return file_; }

 private:
  const LlamaTensorName& name_of(const std::string& name) const;
  GgufFile file_;
  ModelConfig config_;
  std::map<std::string, LlamaTensorName> names_;  // by HF name, only tensors the file holds
};

}  // namespace mp
