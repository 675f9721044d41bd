// Hugging Face config.json for the decoder families of lib/arch/ (llama, mistral, qwen2, qwen3): the
// keys every family shares; each family reads its own (lib/arch/<family>.cpp).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "formats/json_file.h"

namespace mp {

// rope_scaling {"rope_type": "llama3", factor, low_freq_factor, high_freq_factor,
// original_max_position_embeddings}: Llama 3.1's frequency-dependent stretch.
struct Llama3RopeScaling {
  double factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

// rope_scaling {"type": "longrope" or "su", short_factor, long_factor} (Phi-3): per-dimension divisors of
// the inverse frequencies, the long ones for sequences beyond original_max_position_embeddings, and
// cos/sin scaled by attention_factor (default √(1 + ln s / ln original), s = max positions / original).
struct LongRopeScaling {
  std::vector<float> short_factor, long_factor;  // [rotary_dim / 2] each
  int64_t original_max_position_embeddings = 0;
  double attention_factor = 1;
};

struct ModelConfig {
  std::string model_type;  // an architecture of lib/arch/ ("llama", "qwen3", ...)
  int64_t hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
  int64_t vocab_size = 0, max_position_embeddings = 0;
  double rms_norm_eps = 0, rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // qwen2 always; llama with attention_bias
  bool o_bias = false;    // llama with attention_bias
  bool mlp_bias = false;  // llama with mlp_bias
  bool qk_norm = false;   // qwen3, gemma3: per-head RMSNorm of q and k before rope
  // Gemma's differences from the Llama layer (lib/arch/gemma.cpp sets them):
  bool norm_adds_one = false;     // RMSNorm scales by (1 + w), in f32
  bool gelu_mlp = false;          // GeGLU with tanh-approximated GELU instead of SwiGLU
  bool scale_embeddings = false;  // embeddings times √hidden_size, rounded to the compute type
  double query_scale = 0;         // the attention scores' scale; 0: 1/√head_dim
  double attn_softcap = 0, final_softcap = 0;  // cap·tanh(x/cap) of attention scores, of logits; 0: none
  double rope_local_theta = 0;    // rope base of the sliding-window layers; 0: rope_theta
  // rope_scaling {"rope_type": "linear", factor}: positions divided by factor (gemma3: global layers only).
  double rope_linear_factor = 1;
  int64_t sliding_window = 0;  // keys a query sees in a sliding-window layer; 0: full attention
  std::vector<bool> sliding_layers;  // which layers use sliding_window; empty: all of them
  int64_t rotary_dim = 0;  // leading dims of each head that rotate (partial_rotary_factor); 0: all
  bool fused_qkv = false, fused_gate_up = false;  // phi3: self_attn.qkv_proj, mlp.gate_up_proj
  int64_t bos_token_id = 1, eos_token_id = 2;
  std::optional<Llama3RopeScaling> llama3_rope;
  std::optional<LongRopeScaling> longrope;
  // llama.cpp's rope_freqs tensor (GGUF files): inverse frequency i is divided by factor i. What a
  // GGUF holds instead of llama3_rope, whose parameters it does not keep.
  std::vector<float> rope_freq_factors;
  nlohmann::json raw;  // the file as read, so writers keep keys we do not interpret

  // `where` names the file in error messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& where);
  static ModelConfig load(const std::string& dir);
  int64_t q_size() const { return num_heads * head_dim; }
  // [out, in] of a decoder linear by HF suffix ("self_attn.q_proj", "mlp.down_proj", ...).
  std::pair<int64_t, int64_t> linear_shape(const std::string& suffix) const;
  // Whether that linear carries a bias in checkpoints of this config.
  bool has_bias(const std::string& suffix) const;
  int64_t kv_size() const { return num_kv_heads * head_dim; }
  int64_t rotated_dims() const { return rotary_dim > 0 ? rotary_dim : head_dim; }
  // The sliding window of layer i (0: it attends to every earlier position).
  int64_t attention_window(int64_t layer) const;
};

// Bad input unless every count, token id and float of `c` lies in a usable range
// (formats/hf_config_ranges.cpp); from_json calls it, other config readers (GGUF) too.
void check_config_ranges(const ModelConfig& c, const std::string& where);

}  // namespace mp
