#include "formats/gguf_export_metadata.h"

#include <cmath>
#include <cstdio>

#include "formats/generation_config.h"
#include "formats/gguf_llama_names.h"
#include "formats/gguf_vocab_export.h"
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

// general.sampling.* from generation_config.json, as gguf-py's Metadata takes them (before general.name).
std::vector<std::pair<std::string, GgufValue>> sampling_keys(const std::string& model_dir) {
  const GenerationConfig g = read_generation_config(model_dir);
  std::vector<std::pair<std::string, GgufValue>> keys;
  auto add = [&](const char* key, const std::optional<double>& value) {
    if (value) keys.emplace_back(key, GgufValue::float32(static_cast<float>(*value)));
  };
  if (g.top_k) keys.emplace_back("general.sampling.top_k", GgufValue::int32(static_cast<int32_t>(*g.top_k)));
  add("general.sampling.top_p", g.top_p);
  add("general.sampling.min_p", g.min_p);
  add("general.sampling.temp", g.temperature);
  add("general.sampling.penalty_repeat", g.repetition_penalty);
  return keys;
}

}  // namespace

std::vector<std::pair<std::string, GgufValue>> llama_gguf_metadata(const ModelSource& source, const std::string& name,
                                                                   int64_t parameters, uint32_t file_type,
                                                                   const std::string& pre) {
  const ModelConfig& c = source.config();
  auto u32 = [](int64_t v) { return GgufValue::uint32(static_cast<uint32_t>(v)); };
  const std::string arch = gguf_architecture(c);
  // Order and types as convert_hf_to_gguf.py emits them with a SentencePiece vocab: TextModel's keys
  // (key/value_length only when config.json names head_dim or implies another), then the architecture's own.
  std::vector<std::pair<std::string, GgufValue>> keys = {
      {"general.architecture", GgufValue::string(arch)},
      {"general.type", GgufValue::string("model")},
  };
  for (auto& kv : sampling_keys(source.path())) keys.push_back(std::move(kv));
  std::vector<std::pair<std::string, GgufValue>> model_keys = {
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
  for (auto& kv : model_keys) keys.push_back(std::move(kv));
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
  auto vocab = gguf_vocab_keys(source, arch, pre);
  for (const auto& [key, value] : vocab)
    if (key == "tokenizer.ggml.tokens" && static_cast<int64_t>(value.as_array().size()) != c.vocab_size)
      fail_input(source.path(), "tokenizer has " + std::to_string(value.as_array().size()) + " tokens but vocab_size is " +
                                    std::to_string(c.vocab_size));
  vocab.emplace_back("general.quantization_version", GgufValue::uint32(2));
  for (auto& kv : vocab) keys.push_back(std::move(kv));
  return keys;
}

}  // namespace mp
