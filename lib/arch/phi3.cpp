// Phi-3, Phi-3.5-mini and Phi-4-mini (HF model_type "phi3"): Llama's layer with q, k and v fused into
// one qkv_proj ([q; k; v] rows) and gate and up into one gate_up_proj ([gate; up] rows), rope on the
// first partial_rotary_factor of each head, longrope scaling (formats/hf_config.cpp reads it), and a
// sliding window on every layer when sliding_window is set. llama.cpp's "phi3" keeps both fusions
// (attn_qkv; ffn_up holds [gate; up] and its SwiGLU splits it in that order), rotates NEOX-style,
// takes the short and long factors as rope_factors_short/long tensors and ignores the window.
#include <cmath>

#include "lib/arch/llama_layout.h"

namespace mp {

namespace {

class Phi3 : public Architecture {
 public:
  const char* model_type() const override { return "phi3"; }
  const char* gguf_name() const override { return "phi3"; }

  void read_config(const ConfigKeys& keys, ModelConfig& c) const override {
    const std::string act = keys.optional<std::string>("hidden_act", "silu");
    if (act != "silu") fail_input(keys.where(), "unsupported hidden_act \"" + act + "\" (supported: silu)");
    c.qkv_bias = c.o_bias = keys.optional<bool>("attention_bias", false);
    c.fused_qkv = c.fused_gate_up = true;
    const double rotated = keys.optional<double>("partial_rotary_factor", 1.0);
    // transformers truncates; the epsilon keeps a factor read back from GGUF (rotated / head_dim) whole.
    c.rotary_dim = static_cast<int64_t>(c.head_dim * rotated + 1e-9);
    if (!(rotated > 0 && rotated <= 1) || c.rotary_dim < 2 || c.rotary_dim % 2 != 0)
      fail_input(keys.where(), "\"partial_rotary_factor\" must give an even number of rotated dimensions per head");
    c.sliding_window = keys.optional<int64_t>("sliding_window", 0);
    if (c.sliding_window < 0) fail_input(keys.where(), "\"sliding_window\" must not be negative");
  }

  std::vector<LayerTensor> layer_tensors(const ModelConfig& c) const override {
    using Kind = LayerTensor::Kind;
    std::vector<LayerTensor> tensors;
    auto linear = [&](const std::string& hf, const std::string& gguf, bool bias) {
      const auto [out, in] = c.linear_shape(hf);
      tensors.push_back({hf + ".weight", gguf + ".weight", {out, in}, Kind::weight, 0, ""});
      if (bias) tensors.push_back({hf + ".bias", gguf + ".bias", {out}, Kind::bias, 0, ""});
    };
    tensors.push_back({"input_layernorm.weight", "attn_norm.weight", {c.hidden_size}, Kind::norm, 0, ""});
    linear("self_attn.qkv_proj", "attn_qkv", c.qkv_bias);
    linear("self_attn.o_proj", "attn_output", c.o_bias);
    tensors.push_back({"post_attention_layernorm.weight", "ffn_norm.weight", {c.hidden_size}, Kind::norm, 0, ""});
    linear("mlp.gate_up_proj", "ffn_up", false);
    linear("mlp.down_proj", "ffn_down", false);
    return tensors;
  }

  const std::vector<LinearGroup>& linear_groups() const override {
    static const std::vector<LinearGroup> groups = {
        {"attn_in", {"self_attn.qkv_proj"}},
        {"o_in", {"self_attn.o_proj"}},
        {"mlp_in", {"mlp.gate_up_proj"}},
        {"down_in", {"mlp.down_proj"}},
    };
    return groups;
  }

  // The fused linears take the scale of their input as one; the v rows of qkv_proj and the up rows of
  // gate_up_proj absorb 1/s as the separate v_proj and up_proj do (quant/awq_scale.cpp).
  const std::vector<ScalingGroup>& awq_scaling_groups() const override {
    static const std::vector<ScalingGroup> groups = {
        {"qkv", ScaledOp::input_norm, "attn_in", {"self_attn.qkv_proj"}, InspectedBlock::attention},
        {"v->o", ScaledOp::v_proj, "o_in", {"self_attn.o_proj"}, InspectedBlock::o_proj},
        {"gate,up", ScaledOp::post_attention_norm, "mlp_in", {"mlp.gate_up_proj"}, InspectedBlock::mlp},
        {"up->down", ScaledOp::up_proj, "down_in", {"mlp.down_proj"}, InspectedBlock::down_proj},
    };
    return groups;
  }

  GgufKeys gguf_keys(const ModelConfig& c) const override {
    const int64_t original = c.longrope ? c.longrope->original_max_position_embeddings : c.max_position_embeddings;
    GgufKeys keys = {
        {"phi3.rope.scaling.original_context_length", GgufValue::uint32(static_cast<uint32_t>(original))},
        {"phi3.rope.dimension_count", GgufValue::uint32(static_cast<uint32_t>(c.rotated_dims()))},
        {"phi3.attention.sliding_window", GgufValue::uint32(static_cast<uint32_t>(c.sliding_window))},
    };
    if (c.longrope)
      keys.emplace_back("phi3.rope.scaling.attn_factor", GgufValue::float32(static_cast<float>(c.longrope->attention_factor)));
    return keys;
  }

  void read_gguf(const GgufFile& file, nlohmann::json& config) const override {
    config["attention_bias"] = file.find_tensor("blk.0.attn_qkv.bias") != nullptr;
    if (const GgufValue* window = file.find("phi3.attention.sliding_window")) config["sliding_window"] = window->as_uint();
    const GgufValue* rotated = file.find("phi3.rope.dimension_count");
    const int64_t head_dim = config["head_dim"].get<int64_t>();
    if (rotated && head_dim > 0) config["partial_rotary_factor"] = static_cast<double>(rotated->as_uint()) / head_dim;
    const GgufTensorInfo* long_factors = file.find_tensor("rope_factors_long.weight");
    const GgufTensorInfo* short_factors = file.find_tensor("rope_factors_short.weight");
    if (!long_factors || !short_factors) return;
    auto values = [&](const GgufTensorInfo* info) {
      const at::Tensor t = file.tensor(*info).reshape({-1}).to(at::kDouble).contiguous();
      return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.size(0));
    };
    nlohmann::json scaling = {{"type", "longrope"}, {"long_factor", values(long_factors)},
                              {"short_factor", values(short_factors)}};
    if (const GgufValue* original = file.find("phi3.rope.scaling.original_context_length"))
      scaling["original_max_position_embeddings"] = original->as_uint();
    if (const GgufValue* factor = file.find("phi3.rope.scaling.attn_factor")) scaling["attention_factor"] = factor->as_float();
    config["rope_scaling"] = scaling;
  }

  // llama.cpp runs no window for phi3 (it warns and attends to everything), as its own converter's
  // files do: the same answers while the context fits in the window.
  std::string gguf_unsupported(const ModelConfig&) const override { return ""; }
};

}  // namespace

const Architecture& phi3_architecture() {
  static const Phi3 arch;
  return arch;
}

}  // namespace mp
