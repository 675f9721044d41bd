// Qwen 3 (dense): Qwen 2's layout with biases only under attention_bias (q, k, v and o), head_dim
// from the config, and an RMSNorm over each head of q and of k (weights [head_dim], shared by the
// heads) before rope. llama.cpp's "qwen3": NEOX rope, rows as HF stores them, attn_q_norm/attn_k_norm.
#include "lib/arch/llama_layout.h"

namespace mp {

namespace {

class Qwen3 : public Architecture {
 public:
  const char* model_type() const override { return "qwen3"; }
  const char* gguf_name() const override { return "qwen3"; }
  void read_config(const ConfigKeys& keys, ModelConfig& c) const override {
    c.qkv_bias = c.o_bias = keys.optional<bool>("attention_bias", false);
    c.qk_norm = true;
    read_qwen_sliding_window(keys, c);
  }
  std::vector<LayerTensor> layer_tensors(const ModelConfig& c) const override {
    std::vector<LayerTensor> tensors = llama_layout_tensors(c, /*permute_qk=*/false);
    for (LayerTensor& t : qk_norm_tensors(c)) tensors.push_back(std::move(t));
    return tensors;
  }
  void read_gguf(const GgufFile& file, nlohmann::json& config) const override {
    config["attention_bias"] = file.find_tensor("blk.0.attn_q.bias") != nullptr;
  }
};

}  // namespace

const Architecture& qwen3_architecture() {
  static const Qwen3 arch;
  return arch;
}

}  // namespace mp
