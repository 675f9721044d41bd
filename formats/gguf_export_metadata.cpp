#include "formats/gguf_export_metadata.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "formats/gguf_llama_names.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"

namespace mp {

std::string gguf_size_label(int64_t parameters) {
  const double p = static_cast<double>(parameters);
  const auto [scaled, suffix] = p > 1e12 ? std::pair{p * 1e-12, "T"}
                                : p > 1e9 ? std::pair{p * 1e-9, "B"}
                                : p > 1e6 ? std::pair{p * 1e-6, "M"}
                                          : std::pair{p * 1e-3, "K"};
  const int digits = static_cast<int>(std::to_string(static_cast<int64_t>(std::llround(scaled))).size());
  const int decimals = std::max(2 - digits, 0);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f%s", decimals, scaled, suffix);
  return buf;
}

namespace {

// tokenizer_config.json's add_bos_token / add_eos_token when the model directory has them; else HF
// Llama's behaviour (BOS, no EOS). llama.cpp reads the GGUF keys to decide the same.
std::pair<bool, bool> bos_eos_flags(const ModelSource& source) {
  const std::filesystem::path path = std::filesystem::path(source.path()) / "tokenizer_config.json";
  std::pair<bool, bool> flags{true, false};
  if (!std::filesystem::is_directory(source.path()) || !std::filesystem::exists(path)) return flags;
  const nlohmann::json j = read_json_file(path.string());
  auto flag = [&](const char* key, bool& value) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_boolean()) fail_input(path.string(), std::string(key) + " must be true or false");
    value = j[key].get<bool>();
  };
  flag("add_bos_token", flags.first);
  flag("add_eos_token", flags.second);
  return flags;
}

}  // namespace

std::vector<std::pair<std::string, GgufValue>> llama_gguf_metadata(const ModelSource& source, const std::string& name,
                                                                   int64_t parameters, uint32_t file_type) {
  const ModelConfig& c = source.config();
  const Tokenizer tok = source.tokenizer();
  if (tok.vocab_size() != c.vocab_size)
    fail_input(source.path(), "tokenizer has " + std::to_string(tok.vocab_size()) + " pieces but vocab_size is " +
                                  std::to_string(c.vocab_size));
  std::vector<GgufValue> tokens, scores, types;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    tokens.push_back(GgufValue::string(tok.piece(id)));
    scores.push_back(GgufValue::float32(tok.score(id)));
    types.push_back(GgufValue::int32(static_cast<int32_t>(tok.type(id))));
  }
  auto u32 = [](int64_t v) { return GgufValue::uint32(static_cast<uint32_t>(v)); };
  const std::string arch = gguf_architecture(c);
  const auto [add_bos, add_eos] = bos_eos_flags(source);
  // Order and types as convert_hf_to_gguf.py emits them with a SentencePiece vocab: TextModel's keys
  // (key/value_length only when config.json names head_dim or implies another), then the architecture's own.
  std::vector<std::pair<std::string, GgufValue>> keys = {
      {"general.architecture", GgufValue::string(arch)},
      {"general.type", GgufValue::string("model")},
      {"general.name", GgufValue::string(name)},
      {"general.size_label", GgufValue::string(gguf_size_label(parameters))},
      {arch + ".block_count", u32(c.num_layers)},
      {arch + ".context_length", u32(c.max_position_embeddings)},
      {arch + ".embedding_length", u32(c.hidden_size)},
      {arch + ".feed_forward_length", u32(c.intermediate_size)},
      {arch + ".attention.head_count", u32(c.num_heads)},
      {arch + ".attention.head_count_kv", u32(c.num_kv_heads)},
      {arch + ".rope.freq_base", GgufValue::float32(static_cast<float>(c.rope_theta))},
      {arch + ".attention.layer_norm_rms_epsilon", GgufValue::float32(static_cast<float>(c.rms_norm_eps))},
  };
  if (c.rope_linear_factor != 1) {
    keys.emplace_back(arch + ".rope.scaling.type", GgufValue::string("linear"));
    keys.emplace_back(arch + ".rope.scaling.factor", GgufValue::float32(static_cast<float>(c.rope_linear_factor)));
  }
  if (c.raw.contains("head_dim") || c.head_dim * c.num_heads != c.hidden_size) {
    keys.emplace_back(arch + ".attention.key_length", u32(c.head_dim));
    keys.emplace_back(arch + ".attention.value_length", u32(c.head_dim));
  }
  keys.emplace_back("general.file_type", GgufValue::uint32(file_type));
  for (auto& kv : architecture_of(c).gguf_keys(c)) keys.push_back(std::move(kv));
  std::vector<std::pair<std::string, GgufValue>> vocab = {
      {"tokenizer.ggml.model", GgufValue::string("llama")},
      {"tokenizer.ggml.pre", GgufValue::string("default")},
      {"tokenizer.ggml.tokens", GgufValue::array(GgufType::STRING, std::move(tokens))},
      {"tokenizer.ggml.scores", GgufValue::array(GgufType::FLOAT32, std::move(scores))},
      {"tokenizer.ggml.token_type", GgufValue::array(GgufType::INT32, std::move(types))},
      {"tokenizer.ggml.bos_token_id", u32(c.bos_token_id)},
      {"tokenizer.ggml.eos_token_id", u32(c.eos_token_id)},
      {"tokenizer.ggml.add_bos_token", GgufValue::boolean(add_bos)},
      {"tokenizer.ggml.add_eos_token", GgufValue::boolean(add_eos)},
      {"general.quantization_version", GgufValue::uint32(2)},
  };
  for (auto& kv : vocab) keys.push_back(std::move(kv));
  return keys;
}

}  // namespace mp
