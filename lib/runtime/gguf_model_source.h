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
  // tensor(name) in `dtype` (f32 or bf16: decoded straight to it, without a whole f32 copy; others
  // cast from f32), the same values as tensor(name).to(dtype).
  at::Tensor converted(const std::string& name, at::ScalarType dtype) const;
  // The rows `indices` (int64, any shape) of the 2-D tensor `name` in `dtype`, [indices..., columns],
  // decoding only those rows: the values tensor(name).to(dtype) has there.
  at::Tensor rows(const std::string& name, const at::Tensor& indices, at::ScalarType dtype) const;
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
