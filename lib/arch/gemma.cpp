// Gemma 2 and Gemma 3 (text, HF model_type "gemma3_text"): RMSNorm scaling by (1 + w), GeGLU with
// tanh-GELU, embeddings times √hidden, norms on the attention and MLP outputs as well as their inputs,
// query_pre_attn_scalar, soft caps (gemma2: attention scores and logits; gemma3: logits), and
// interleaved sliding-window and global layers (gemma2: every other layer; gemma3: five of every six,
// with their own rope base, rope scaling on the global layers only). gemma3 adds q/k norms.
// llama.cpp ("gemma2", "gemma3"): NEOX rope, norms stored as 1 + w, embeddings tied, and the window
// pattern, attention scale and absence of biases fixed by the architecture.
#include <cmath>

#include "lib/arch/llama_layout.h"

namespace mp {

namespace {

class Gemma : public Architecture {
 public:
  Gemma(const char* model_type, const char* gguf_name, int64_t pattern, int64_t layers_27b)
      : model_type_(model_type), gguf_name_(gguf_name), pattern_(pattern), layers_27b_(layers_27b) {}
  const char* model_type() const override { return model_type_; }
  const char* gguf_name() const override { return gguf_name_; }
  bool is_gemma3() const { return pattern_ == 6; }

  void read_config(const ConfigKeys& keys, ModelConfig& c) const override {
    if (keys.has("rope_parameters"))
      fail_input(keys.where(), "\"rope_parameters\" (the transformers 5 layout) is not supported; use rope_theta, "
                               "rope_local_base_freq and rope_scaling");
    const std::string act = keys.optional<std::string>(
        "hidden_activation", keys.optional<std::string>("hidden_act", "gelu_pytorch_tanh"));
    if (act != "gelu_pytorch_tanh")
      fail_input(keys.where(), "unsupported hidden_activation \"" + act + "\" (supported: gelu_pytorch_tanh)");
    // HF's defaults where Gemma's differ from the common ones.
    c.head_dim = keys.optional<int64_t>("head_dim", 256);
    if (c.head_dim <= 0 || c.head_dim % 2 != 0) fail_input(keys.where(), "\"head_dim\" must be positive and even");
    c.tie_word_embeddings = keys.optional<bool>("tie_word_embeddings", true);
    c.bos_token_id = keys.optional<int64_t>("bos_token_id", 2);
    if (!keys.has("eos_token_id")) c.eos_token_id = 1;
    c.max_position_embeddings = keys.optional<int64_t>("max_position_embeddings", is_gemma3() ? 131072 : 8192);
    c.qkv_bias = c.o_bias = keys.optional<bool>("attention_bias", false);
    c.norm_adds_one = c.gelu_mlp = c.scale_embeddings = true;
    const double scalar = keys.optional<double>("query_pre_attn_scalar", 256.0);
    if (scalar <= 0) fail_input(keys.where(), "\"query_pre_attn_scalar\" must be positive");
    c.query_scale = 1.0 / std::sqrt(scalar);
    c.attn_softcap = keys.optional<double>("attn_logit_softcapping", is_gemma3() ? 0.0 : 50.0);
    c.final_softcap = keys.optional<double>("final_logit_softcapping", is_gemma3() ? 0.0 : 30.0);
    if (c.attn_softcap < 0 || c.final_softcap < 0) fail_input(keys.where(), "soft caps must not be negative");
    c.sliding_window = keys.optional<int64_t>("sliding_window", 4096);
    if (c.sliding_window <= 0) fail_input(keys.where(), "\"sliding_window\" must be positive");
    if (is_gemma3()) {
      c.qk_norm = true;
      c.rope_theta = keys.optional<double>("rope_theta", 1000000.0);
      c.rope_local_theta = keys.optional<double>("rope_local_base_freq", 10000.0);
    }
    if (read_layer_types(keys, c)) return;
    const int64_t pattern = is_gemma3() ? keys.optional<int64_t>("sliding_window_pattern", pattern_) : pattern_;
    if (pattern <= 0) fail_input(keys.where(), "\"sliding_window_pattern\" must be positive");
    c.sliding_layers = default_pattern(c.num_layers, pattern);
  }

  std::vector<LayerTensor> layer_tensors(const ModelConfig& c) const override {
    using Kind = LayerTensor::Kind;
    std::vector<LayerTensor> tensors;
    for (LayerTensor& t : llama_layout_tensors(c, /*permute_qk=*/false)) {
      if (t.hf == "post_attention_layernorm.weight") {
        // Gemma's post-attention norm normalizes the attention output; the MLP reads its own.
        tensors.push_back({t.hf, "post_attention_norm.weight", t.shape, Kind::norm, 0, "attn_output_norm"});
        tensors.push_back({"pre_feedforward_layernorm.weight", "ffn_norm.weight", t.shape, Kind::norm, 0,
                           "post_attention_layernorm.weight"});
        continue;
      }
      tensors.push_back(std::move(t));
    }
    tensors.push_back({"post_feedforward_layernorm.weight", "post_ffw_norm.weight", {c.hidden_size}, Kind::norm, 0,
                       "mlp_output_norm"});
    if (c.qk_norm)
      for (LayerTensor& t : qk_norm_tensors(c)) tensors.push_back(std::move(t));
    return tensors;
  }

  GgufKeys gguf_keys(const ModelConfig& c) const override {
    const std::string a = gguf_name_;
    GgufKeys keys;
    if (!is_gemma3()) keys.emplace_back(a + ".attn_logit_softcapping", GgufValue::float32(static_cast<float>(c.attn_softcap)));
    if (!is_gemma3() || c.final_softcap > 0)
      keys.emplace_back(a + ".final_logit_softcapping", GgufValue::float32(static_cast<float>(c.final_softcap)));
    if (!is_gemma3() || any_sliding(c))
      keys.emplace_back(a + ".attention.sliding_window", GgufValue::uint32(static_cast<uint32_t>(c.sliding_window)));
    if (is_gemma3()) keys.emplace_back(a + ".rope.freq_base_swa", GgufValue::float32(static_cast<float>(c.rope_local_theta)));
    return keys;
  }

  void read_gguf(const GgufFile& file, nlohmann::json& config) const override {
    const std::string a = gguf_name_;
    auto number = [&](const std::string& key) -> nlohmann::json {
      const GgufValue* v = file.find(a + "." + key);
      if (!v) return nullptr;
      return v->type() == GgufType::FLOAT32 || v->type() == GgufType::FLOAT64 ? nlohmann::json(v->as_float())
                                                                              : nlohmann::json(v->as_uint());
    };
    config["attn_logit_softcapping"] = number("attn_logit_softcapping");
    config["final_logit_softcapping"] = number("final_logit_softcapping");
    config["query_pre_attn_scalar"] = llamacpp_query_scalar(config["num_hidden_layers"].get<int64_t>(),
                                                            config["hidden_size"].get<int64_t>(),
                                                            config["num_attention_heads"].get<int64_t>(),
                                                            config["head_dim"].get<int64_t>());
    const nlohmann::json window = number("attention.sliding_window");
    if (!window.is_null()) config["sliding_window"] = window;
    if (is_gemma3()) {
      if (window.is_null()) config["sliding_window_pattern"] = 1;  // no sliding layers
      const nlohmann::json local = number("rope.freq_base_swa");
      if (!local.is_null()) config["rope_local_base_freq"] = local;
    }
  }

  std::string gguf_unsupported(const ModelConfig& c) const override {
    if (!c.tie_word_embeddings) return std::string("llama.cpp's \"") + gguf_name_ + "\" ties the output to the embeddings";
    if (c.qkv_bias) return std::string("llama.cpp's \"") + gguf_name_ + "\" has no attention biases";
    const double scalar = llamacpp_query_scalar(c.num_layers, c.hidden_size, c.num_heads, c.head_dim);
    if (std::abs(c.query_scale * std::sqrt(scalar) - 1) > 1e-6)
      return "llama.cpp scales attention scores by 1/√" + std::to_string(static_cast<int64_t>(scalar)) +
             " for this shape, the config by query_pre_attn_scalar^-1/2";
    if (any_sliding(c) && c.sliding_layers != default_pattern(c.num_layers, pattern_))
      return std::string("llama.cpp's \"") + gguf_name_ + "\" slides the window on layers i with i mod " +
             std::to_string(pattern_) + " < " + std::to_string(pattern_ - 1) + " only";
    return "";
  }

 private:
  // HF's sliding_window_pattern: layer i slides unless (i + 1) is a multiple of the pattern.
  static std::vector<bool> default_pattern(int64_t layers, int64_t pattern) {
    std::vector<bool> sliding(layers);
    for (int64_t i = 0; i < layers; ++i) sliding[i] = (i + 1) % pattern != 0;
    return sliding;
  }
  static bool any_sliding(const ModelConfig& c) {
    for (int64_t i = 0; i < c.num_layers; ++i)
      if (c.attention_window(i) > 0) return true;
    return false;
  }
  // llama.cpp's attention scale 1/√x: x = hidden/heads for the 27B layer count, head_dim otherwise.
  double llamacpp_query_scalar(int64_t layers, int64_t hidden, int64_t heads, int64_t head_dim) const {
    return static_cast<double>(layers == layers_27b_ ? hidden / heads : head_dim);
  }

  const char* model_type_;
  const char* gguf_name_;
  int64_t pattern_;     // llama.cpp's default: layer i slides when i mod pattern < pattern - 1
  int64_t layers_27b_;  // the 27B's layer count, for which llama.cpp scales by hidden/heads
};

}  // namespace

const Architecture& gemma2_architecture() {
  static const Gemma arch("gemma2", "gemma2", 2, 46);
  return arch;
}

const Architecture& gemma3_architecture() {
  static const Gemma arch("gemma3_text", "gemma3", 6, 62);
  return arch;
}

}  // namespace mp
