// ModelSource: one interface over everything a model can be read from (an HF directory, a
// quantized checkpoint, a GGUF file). Tensors are named as in HF Llama checkpoints and are
// materialized one at a time, only when asked for.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>

#include "formats/hf_config.h"
#include "lib/tokenizer/tokenizer.h"
#include "quant/quantized_linear.h"

namespace mp {

class ModelSource {
 public:
  virtual ~ModelSource() = default;
  virtual const ModelConfig& config() const = 0;
  virtual bool has(const std::string& name) const = 0;
  // A float CPU tensor; may be a read-only view over a memory map, so copy before writing to it.
  virtual at::Tensor tensor(const std::string& name) const = 0;
  // tensor(name) in `dtype`; a source that decodes (GGUF blocks) decodes straight to it, so a bf16
  // layer never exists in f32 whole.
  virtual at::Tensor tensor_as(const std::string& name, at::ScalarType dtype) const { return tensor(name).to(dtype); }
  // The rows `indices` (int64, any shape) of the 2-D tensor `name` in `dtype`: [indices..., columns],
  // the values tensor_as(name, dtype) has there; a GGUF source decodes only those rows.
  virtual at::Tensor tensor_rows(const std::string& name, const at::Tensor& indices, at::ScalarType dtype) const;
  // The caller is done with this tensor: a memory-mapped source may drop its pages.
  virtual void release(const std::string& name) const {}
  // The codes and group parameters a quantized checkpoint stores for a linear weight
  // ("...q_proj.weight"), cut to its configured shape; nullopt for weights stored as floats. Lets a
  // writer whose format can hold them (GGUF Q4_0/Q4_1) keep them instead of re-quantizing tensor().
  virtual std::optional<QuantizedLinear> quantized_linear(const std::string& name) const { return std::nullopt; }
  // "GPTQ", "AWQ": what quantized_linear() comes from, for messages; empty for float models.
  virtual std::string quantization_method() const { return ""; }
  virtual Tokenizer tokenizer() const = 0;
  virtual const std::string& path() const = 0;
};

// Opens a path by what it is; a path no reader recognizes is a bad-input error naming it.
std::shared_ptr<const ModelSource> open_model(const std::string& path);

// Drops decoder layer i's mapped pages once it has run (they are read again from the page cache
// if needed), so resident memory stays near one layer however large the model.
void release_layer_pages(const ModelSource& source, int64_t i);

// HF tensor names of the Llama family, in one place.
namespace hf_names {
std::string layer(int64_t i, const std::string& suffix);  // "model.layers.<i>.<suffix>"
struct LayerTensorName {
  int64_t layer;
  std::string suffix;
};
// The inverse of layer(); nullopt for a name outside the decoder layers.
std::optional<LayerTensorName> split_layer(const std::string& name);
inline const char* embed = "model.embed_tokens.weight";
inline const char* final_norm = "model.norm.weight";
inline const char* lm_head = "lm_head.weight";
}  // namespace hf_names

}  // namespace mp
