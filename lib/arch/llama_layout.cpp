#include "lib/arch/llama_layout.h"

namespace mp {

std::vector<LayerTensor> llama_layout_tensors(const ModelConfig& c, bool permute_qk) {
  using Kind = LayerTensor::Kind;
  std::vector<LayerTensor> tensors;
  auto linear = [&](const std::string& hf, const std::string& gguf, bool bias, int64_t heads) {
    const auto [out, in] = c.linear_shape(hf);
    const int64_t permute = permute_qk ? heads : 0;
    tensors.push_back({hf + ".weight", gguf + ".weight", {out, in}, Kind::weight, permute, ""});
    if (bias) tensors.push_back({hf + ".bias", gguf + ".bias", {out}, Kind::bias, permute, ""});
  };
  tensors.push_back({"input_layernorm.weight", "attn_norm.weight", {c.hidden_size}, Kind::norm, 0, ""});
  linear("self_attn.q_proj", "attn_q", c.qkv_bias, c.num_heads);
  linear("self_attn.k_proj", "attn_k", c.qkv_bias, c.num_kv_heads);
  linear("self_attn.v_proj", "attn_v", c.qkv_bias, 0);
  linear("self_attn.o_proj", "attn_output", c.o_bias, 0);
  tensors.push_back({"post_attention_layernorm.weight", "ffn_norm.weight", {c.hidden_size}, Kind::norm, 0, ""});
  linear("mlp.gate_proj", "ffn_gate", c.mlp_bias, 0);
  linear("mlp.up_proj", "ffn_up", c.mlp_bias, 0);
  linear("mlp.down_proj", "ffn_down", c.mlp_bias, 0);
  return tensors;
}

std::vector<LayerTensor> qk_norm_tensors(const ModelConfig& c) {
  return {{"self_attn.q_norm.weight", "attn_q_norm.weight", {c.head_dim}, LayerTensor::Kind::norm, 0, ""},
          {"self_attn.k_norm.weight", "attn_k_norm.weight", {c.head_dim}, LayerTensor::Kind::norm, 0, ""}};
}

bool read_layer_types(const ConfigKeys& keys, ModelConfig& c) {
  if (!keys.has("layer_types")) return false;
  const auto types = keys.required<std::vector<std::string>>("layer_types");
  if (static_cast<int64_t>(types.size()) != c.num_layers)
    fail_input(keys.where(), "\"layer_types\" has " + std::to_string(types.size()) + " entries for " +
                                 std::to_string(c.num_layers) + " layers");
  c.sliding_layers.assign(c.num_layers, false);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    if (types[i] != "sliding_attention" && types[i] != "full_attention")
      fail_input(keys.where(), "unknown layer type \"" + types[i] + "\" in \"layer_types\"");
    c.sliding_layers[i] = types[i] == "sliding_attention";
  }
  return true;
}

void read_qwen_sliding_window(const ConfigKeys& keys, ModelConfig& c) {
  if (!keys.optional<bool>("use_sliding_window", false)) return;
  c.sliding_window = keys.optional<int64_t>("sliding_window", 0);
  if (c.sliding_window < 0) fail_input(keys.where(), "\"sliding_window\" must not be negative");
  if (read_layer_types(keys, c)) return;
  c.sliding_layers.assign(c.num_layers, false);
  const int64_t first = keys.optional<int64_t>("max_window_layers", 28);  // HF's default
  for (int64_t i = std::max<int64_t>(first, 0); i < c.num_layers; ++i) c.sliding_layers[i] = true;
}

}  // namespace mp
