#include "formats/hf_config.h"

#include <cmath>
#include <filesystem>

#include "formats/config_keys.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"

namespace mp {

namespace {

void require_positive(int64_t value, const char* key, const std::string& where) {
  if (value <= 0) fail_input(where, std::string("\"") + key + "\" must be positive, got " + std::to_string(value));
}

std::vector<float> read_factors(const ConfigKeys& rs, const char* key, int64_t expected) {
  const auto factors = rs.required<std::vector<double>>(key);
  if (static_cast<int64_t>(factors.size()) != expected)
    fail_input(rs.where(), std::string("rope_scaling \"") + key + "\" has " + std::to_string(factors.size()) +
                               " values, expected rotary dimension / 2 = " + std::to_string(expected));
  std::vector<float> out;
  for (double f : factors) {
    if (!std::isfinite(f) || f <= 0) fail_input(rs.where(), std::string("rope_scaling \"") + key + "\" must be positive");
    out.push_back(static_cast<float>(f));
  }
  return out;
}

// transformers' _compute_longrope_parameters: the original length from the config's top level (Phi-3)
// or from rope_scaling, the attention factor from rope_scaling or from the stretch.
LongRopeScaling read_longrope(const ConfigKeys& rs, const nlohmann::json& j, const ModelConfig& c) {
  LongRopeScaling s;
  const ConfigKeys top(j, rs.where());
  s.original_max_position_embeddings =
      top.has("original_max_position_embeddings") ? top.required<int64_t>("original_max_position_embeddings")
                                                  : rs.required<int64_t>("original_max_position_embeddings");
  require_positive(s.original_max_position_embeddings, "original_max_position_embeddings", rs.where());
  const double stretch = static_cast<double>(c.max_position_embeddings) / s.original_max_position_embeddings;
  s.attention_factor =
      rs.optional<double>("attention_factor",
                          stretch <= 1 ? 1.0 : std::sqrt(1 + std::log(stretch) / std::log(s.original_max_position_embeddings)));
  if (!std::isfinite(s.attention_factor) || s.attention_factor <= 0)
    fail_input(rs.where(), "rope_scaling \"attention_factor\" must be positive");
  s.short_factor = read_factors(rs, "short_factor", c.rotated_dims() / 2);
  s.long_factor = read_factors(rs, "long_factor", c.rotated_dims() / 2);
  return s;
}

// rope_scaling's kinds; their values' ranges are checked with the rest of the config.
void read_rope_scaling(const nlohmann::json& j, const std::string& where, ModelConfig& c) {
  if (!j["rope_scaling"].is_object()) fail_input(where, "\"rope_scaling\" must be an object");
  const ConfigKeys rs(j["rope_scaling"], where);
  std::string type = rs.has("rope_type") ? rs.required<std::string>("rope_type")
                                         : rs.optional<std::string>("type", "");
  if (type == "longrope" || type == "su") {
    c.longrope = read_longrope(rs, j, c);
  } else if (type == "linear") {
    c.rope_linear_factor = rs.required<double>("factor");
  } else if (type == "llama3") {
    Llama3RopeScaling s;
    s.factor = rs.required<double>("factor");
    s.low_freq_factor = rs.required<double>("low_freq_factor");
    s.high_freq_factor = rs.required<double>("high_freq_factor");
    s.original_max_position_embeddings = rs.required<int64_t>("original_max_position_embeddings");
    c.llama3_rope = s;
  } else {
    fail_input(where, "unsupported rope_scaling type \"" + type + "\" (supported: llama3, linear, longrope, su)");
  }
}

}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail_input(where, "not a JSON object");
  ModelConfig c;
  c.raw = j;
  const ConfigKeys keys(j, where);
  c.model_type = keys.required<std::string>("model_type");
  const Architecture& arch = architecture(c.model_type, where);
  c.hidden_size = keys.required<int64_t>("hidden_size");
  c.intermediate_size = keys.required<int64_t>("intermediate_size");
  c.num_layers = keys.required<int64_t>("num_hidden_layers");
  c.num_heads = keys.required<int64_t>("num_attention_heads");
  c.vocab_size = keys.required<int64_t>("vocab_size");
  c.rms_norm_eps = keys.required<double>("rms_norm_eps");
  c.num_kv_heads = keys.optional<int64_t>("num_key_value_heads", c.num_heads);
  for (auto [v, k] : {std::pair{c.hidden_size, "hidden_size"}, {c.intermediate_size, "intermediate_size"},
                      {c.num_layers, "num_hidden_layers"}, {c.num_heads, "num_attention_heads"},
                      {c.vocab_size, "vocab_size"}, {c.num_kv_heads, "num_key_value_heads"}})
    require_positive(v, k, where);
  if (!keys.has("head_dim") && c.hidden_size % c.num_heads != 0)
    fail_input(where, "hidden_size must be a multiple of num_attention_heads (or head_dim given)");
  c.head_dim = keys.optional<int64_t>("head_dim", c.hidden_size / c.num_heads);
  if (c.num_heads % c.num_kv_heads != 0)
    fail_input(where, "num_attention_heads must be a multiple of num_key_value_heads");
  if (c.head_dim % 2 != 0) fail_input(where, "head dimension must be even for rotary embeddings");
  c.max_position_embeddings = keys.optional<int64_t>("max_position_embeddings", 2048);
  c.rope_theta = keys.optional<double>("rope_theta", 10000.0);
  c.tie_word_embeddings = keys.optional<bool>("tie_word_embeddings", false);
  c.bos_token_id = keys.optional<int64_t>("bos_token_id", 1);
  // A list of end tokens: the first is the one generation stops at.
  const bool eos_list = j.contains("eos_token_id") && j["eos_token_id"].is_array();
  if (eos_list && j["eos_token_id"].empty()) fail_input(where, "\"eos_token_id\" is an empty list");
  const nlohmann::json first_eos{{"eos_token_id", eos_list ? j["eos_token_id"][0] : nlohmann::json()}};
  c.eos_token_id = eos_list ? ConfigKeys(first_eos, where).required<int64_t>("eos_token_id")
                            : keys.optional<int64_t>("eos_token_id", 2);
  arch.read_config(keys, c);
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) read_rope_scaling(j, where, c);
  check_config_ranges(c, where);
  return c;
}

std::pair<int64_t, int64_t> ModelConfig::linear_shape(const std::string& suffix) const {
  if (suffix == "self_attn.q_proj") return {q_size(), hidden_size};
  if (suffix == "self_attn.k_proj" || suffix == "self_attn.v_proj") return {kv_size(), hidden_size};
  if (suffix == "self_attn.o_proj") return {hidden_size, q_size()};
  if (suffix == "mlp.gate_proj" || suffix == "mlp.up_proj") return {intermediate_size, hidden_size};
  if (suffix == "mlp.down_proj") return {hidden_size, intermediate_size};
  if (suffix == "self_attn.qkv_proj") return {q_size() + 2 * kv_size(), hidden_size};
  if (suffix == "mlp.gate_up_proj") return {2 * intermediate_size, hidden_size};
  fail_runtime("no decoder linear named " + suffix);
}

bool ModelConfig::has_bias(const std::string& suffix) const {
  if (suffix == "self_attn.q_proj" || suffix == "self_attn.k_proj" || suffix == "self_attn.v_proj" ||
      suffix == "self_attn.qkv_proj")
    return qkv_bias;
  if (suffix == "self_attn.o_proj") return o_bias;
  if (suffix == "mlp.gate_proj" || suffix == "mlp.up_proj" || suffix == "mlp.down_proj" || suffix == "mlp.gate_up_proj")
    return mlp_bias;
  fail_runtime("no decoder linear named " + suffix);
}

int64_t ModelConfig::attention_window(int64_t layer) const {
  if (sliding_layers.empty()) return sliding_window;
  return sliding_layers.at(layer) ? sliding_window : 0;
}

ModelConfig ModelConfig::load(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  if (!std::filesystem::exists(path)) fail_input(dir, "no config.json");
  return from_json(read_json_file(path), path);
}

}  // namespace mp
