// What makes one decoder family differ from another, in one place per family: the config.json keys
// it reads, the tensors of its layers (HF and GGUF names, shapes, q/k row order), llama.cpp's
// architecture name and keys, and AWQ's scaling groups. The runtime (lib/runtime), the GGUF
// exporter and reader, AWQ and the distillation student all read a model through this description,
// so a new family is one file here (lib/arch/<family>.cpp) plus its line in architecture.cpp.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "formats/config_keys.h"
#include "formats/gguf_file.h"
#include "formats/gguf_value.h"
#include "formats/hf_config.h"

namespace mp {

// One tensor of a decoder layer.
struct LayerTensor {
  enum class Kind { norm, weight, bias };
  std::string hf;    // suffix within "model.layers.<i>.": "self_attn.q_proj.weight"
  std::string gguf;  // suffix within "blk.<i>.": "attn_q.weight"
  std::vector<int64_t> shape;
  Kind kind = Kind::weight;
  // llama.cpp's non-NEOX rope pairs adjacent rows, so the converter interleaves the two halves of
  // each of this many heads; 0: rows stay in HF's order.
  int64_t gguf_permute_heads = 0;
  // The runtime's slot for it (DecoderLayerWeights::tensor) when it is not `hf`: gemma's
  // "post_attention_layernorm.weight" normalizes the attention output, its MLP input norm is
  // "pre_feedforward_layernorm.weight".
  std::string runtime_slot;
  const std::string& slot() const { return runtime_slot.empty() ? hf : runtime_slot; }
};

// The linears of a layer, grouped by the input they share, in the order the data flows (the order
// GPTQ's true-sequential mode quantizes them); a fused linear is one linear (one Hessian).
struct LinearGroup {
  const char* input;                 // "attn_in", "o_in", "mlp_in", "down_in"
  std::vector<std::string> linears;  // HF suffixes
};

// AWQ (quant/awq_scale.h): the operation that absorbs 1/s, and the output the search compares.
enum class ScaledOp { input_norm, post_attention_norm, v_proj, up_proj };
enum class InspectedBlock { attention, o_proj, mlp, down_proj };
struct ScalingGroup {
  const char* name;                  // "qkv", "v->o", "gate,up", "up->down"
  ScaledOp previous;                 // absorbs 1/s
  const char* input;                 // the capture name of the linears' shared input
  std::vector<std::string> linears;  // absorb s on their input columns
  InspectedBlock block;
};

using GgufKeys = std::vector<std::pair<std::string, GgufValue>>;

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual const char* model_type() const = 0;  // HF's
  virtual const char* gguf_name() const = 0;   // llama.cpp's general.architecture
  // This family's own config.json keys (biases, windows, norms) into c, after the common ones.
  virtual void read_config(const ConfigKeys& keys, ModelConfig& c) const = 0;
  // The tensors of every decoder layer, in the order data flows through them.
  virtual std::vector<LayerTensor> layer_tensors(const ModelConfig& c) const = 0;
  // The GGUF keys this family adds after general.file_type, as llama.cpp's converter writes them.
  virtual GgufKeys gguf_keys(const ModelConfig& c) const { return {}; }
  // The config.json keys a GGUF file of this family implies beyond the common ones.
  virtual void read_gguf(const GgufFile& file, nlohmann::json& config) const {}
  // Why llama.cpp could not run this configuration as we do; empty when it can.
  virtual std::string gguf_unsupported(const ModelConfig& c) const;
  // In the order data flows through a layer.
  virtual const std::vector<LinearGroup>& linear_groups() const;
  virtual const std::vector<ScalingGroup>& awq_scaling_groups() const;
};

// By HF model_type; an unknown one is bad input naming `where` and the supported types.
const Architecture& architecture(const std::string& model_type, const std::string& where);
const Architecture& architecture_of(const ModelConfig& config);
// The family that reads a GGUF file of llama.cpp architecture `gguf_name` (llama and mistral both
// write "llama"; it reads back as llama).
const Architecture& architecture_for_gguf(const std::string& gguf_name, const std::string& where);

}  // namespace mp
