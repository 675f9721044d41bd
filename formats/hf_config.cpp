#include "formats/hf_config.h"

#include <filesystem>
#include <type_traits>

#include "lib/base/error.h"

namespace mp {

namespace {

template <typename T>
T required(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) fail_input(where, std::string("missing required key \"") + key + "\"");
  // nlohmann would cast 1e30 to an integer unchecked; a count must be written as an integer.
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    if (!j[key].is_number_integer())
      fail_input(where, std::string("key \"") + key + "\" has the wrong type: must be an integer, got " + j[key].dump());
  try {
    return j[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    fail_input(where, std::string("key \"") + key + "\" has the wrong type: " + j[key].dump());
  }
}

template <typename T>
T optional(const nlohmann::json& j, const char* key, T fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  return required<T>(j, key, where);
}

void require_positive(int64_t value, const char* key, const std::string& where) {
  if (value <= 0) fail_input(where, std::string("\"") + key + "\" must be positive, got " + std::to_string(value));
}

}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail_input(where, "not a JSON object");
  ModelConfig c;
  c.raw = j;
  c.model_type = required<std::string>(j, "model_type", where);
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2")
    fail_input(where, "unsupported model_type \"" + c.model_type + "\" (supported: llama, mistral, qwen2)");
  c.hidden_size = required<int64_t>(j, "hidden_size", where);
  c.intermediate_size = required<int64_t>(j, "intermediate_size", where);
  c.num_layers = required<int64_t>(j, "num_hidden_layers", where);
  c.num_heads = required<int64_t>(j, "num_attention_heads", where);
  c.vocab_size = required<int64_t>(j, "vocab_size", where);
  c.rms_norm_eps = required<double>(j, "rms_norm_eps", where);
  c.num_kv_heads = optional<int64_t>(j, "num_key_value_heads", c.num_heads, where);
  for (auto [v, k] : {std::pair{c.hidden_size, "hidden_size"}, {c.intermediate_size, "intermediate_size"},
                      {c.num_layers, "num_hidden_layers"}, {c.num_heads, "num_attention_heads"},
                      {c.vocab_size, "vocab_size"}, {c.num_kv_heads, "num_key_value_heads"}})
    require_positive(v, k, where);
  if (!j.contains("head_dim") && c.hidden_size % c.num_heads != 0)
    fail_input(where, "hidden_size must be a multiple of num_attention_heads (or head_dim given)");
  c.head_dim = optional<int64_t>(j, "head_dim", c.hidden_size / c.num_heads, where);
  if (c.num_heads % c.num_kv_heads != 0)
    fail_input(where, "num_attention_heads must be a multiple of num_key_value_heads");
  if (c.head_dim % 2 != 0) fail_input(where, "head dimension must be even for rotary embeddings");
  c.max_position_embeddings = optional<int64_t>(j, "max_position_embeddings", 2048, where);
  c.rope_theta = optional<double>(j, "rope_theta", 10000.0, where);
  c.tie_word_embeddings = optional<bool>(j, "tie_word_embeddings", false, where);
  c.bos_token_id = optional<int64_t>(j, "bos_token_id", 1, where);
  // A list of end tokens: the first is the one generation stops at.
  const bool eos_list = j.contains("eos_token_id") && j["eos_token_id"].is_array();
  if (eos_list && j["eos_token_id"].empty()) fail_input(where, "\"eos_token_id\" is an empty list");
  c.eos_token_id = eos_list ? required<int64_t>(nlohmann::json{{"eos_token_id", j["eos_token_id"][0]}}, "eos_token_id", where)
                            : optional<int64_t>(j, "eos_token_id", 2, where);
  if (c.model_type == "qwen2") {
    c.qkv_bias = true;
    if (optional<bool>(j, "use_sliding_window", false, where))
      c.sliding_window = optional<int64_t>(j, "sliding_window", 0, where);
  } else if (c.model_type == "llama") {
    c.qkv_bias = c.o_bias = optional<bool>(j, "attention_bias", false, where);
    c.mlp_bias = optional<bool>(j, "mlp_bias", false, where);
  } else {
    c.sliding_window = optional<int64_t>(j, "sliding_window", 0, where);
  }
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const auto& rs = j["rope_scaling"];
    if (!rs.is_object()) fail_input(where, "\"rope_scaling\" must be an object");
    std::string type = optional<std::string>(rs, "rope_type", optional<std::string>(rs, "type", "", where), where);
    if (type != "llama3") fail_input(where, "unsupported rope_scaling type \"" + type + "\" (supported: llama3)");
    Llama3RopeScaling s;
    s.factor = required<double>(rs, "factor", where);
    s.low_freq_factor = required<double>(rs, "low_freq_factor", where);
    s.high_freq_factor = required<double>(rs, "high_freq_factor", where);
    s.original_max_position_embeddings = required<int64_t>(rs, "original_max_position_embeddings", where);
    c.llama3_rope = s;
  }
  check_config_ranges(c, where);
  return c;
}

std::pair<int64_t, int64_t> ModelConfig::linear_shape(const std::string& suffix) const {
  if (suffix == "self_attn.q_proj") return {q_size(), hidden_size};
  if (suffix == "self_attn.k_proj" || suffix == "self_attn.v_proj") return {kv_size(), hidden_size};
  if (suffix == "self_attn.o_proj") return {hidden_size, q_size()};
  if (suffix == "mlp.gate_proj" || suffix == "mlp.up_proj") return {intermediate_size, hidden_size};
  if (suffix == "mlp.down_proj") return {hidden_size, intermediate_size};
  fail_runtime("no decoder linear named " + suffix);
}

bool ModelConfig::has_bias(const std::string& suffix) const {
  if (suffix == "self_attn.q_proj" || suffix == "self_attn.k_proj" || suffix == "self_attn.v_proj") return qkv_bias;
  if (suffix == "self_attn.o_proj") return o_bias;
  if (suffix == "mlp.gate_proj" || suffix == "mlp.up_proj" || suffix == "mlp.down_proj") return mlp_bias;
  fail_runtime("no decoder linear named " + suffix);
}

ModelConfig ModelConfig::load(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  if (!std::filesystem::exists(path)) fail_input(dir, "no config.json");
  return from_json(read_json_file(path), path);
}

}  // namespace mp
