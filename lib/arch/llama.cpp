// Llama (1, 2, 3.x): optional attention and MLP biases; llama.cpp's "llama" runs non-NEOX rope, so
// the converter interleaves q/k rows, and writes the vocabulary size and rope dimension.
#include "lib/arch/llama_layout.h"

namespace mp {

namespace {

class Llama : public Architecture {
 public:
  const char* model_type() const override { return "llama"; }
  const char* gguf_name() const override { return "llama"; }
  void read_config(const ConfigKeys& keys, ModelConfig& c) const override {
    c.qkv_bias = c.o_bias = keys.optional<bool>("attention_bias", false);
    c.mlp_bias = keys.optional<bool>("mlp_bias", false);
  }
  std::vector<LayerTensor> layer_tensors(const ModelConfig& c) const override {
    return llama_layout_tensors(c, /*permute_qk=*/true);
  }
  GgufKeys gguf_keys(const ModelConfig& c) const override {
    return {{"llama.vocab_size", GgufValue::uint32(static_cast<uint32_t>(c.vocab_size))},
            {"llama.rope.dimension_count", GgufValue::uint32(static_cast<uint32_t>(c.head_dim))}};
  }
  void read_gguf(const GgufFile& file, nlohmann::json& config) const override {
    config["attention_bias"] = file.find_tensor("blk.0.attn_q.bias") != nullptr;
    config["mlp_bias"] = file.find_tensor("blk.0.ffn_down.bias") != nullptr;
  }
};

}  // namespace

const Architecture& llama_architecture() {
  static const Llama arch;
  return arch;
}

}  // namespace mp
