#include "formats/gguf_export_metadata.h"

#include <cmath>
#include <cstdio>

#include "lib/error.h"

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
  // Order and types as convert_hf_to_gguf.py emits them for a Llama with a SentencePiece vocab.
  return {
      {"general.architecture", GgufValue::string("llama")},
      {"general.type", GgufValue::string("model")},
      {"general.name", GgufValue::string(name)},
      {"general.size_label", GgufValue::string(gguf_size_label(parameters))},
      {"llama.block_count", u32(c.num_layers)},
      {"llama.context_length", u32(c.max_position_embeddings)},
      {"llama.embedding_length", u32(c.hidden_size)},
      {"llama.feed_forward_length", u32(c.intermediate_size)},
      {"llama.attention.head_count", u32(c.num_heads)},
      {"llama.attention.head_count_kv", u32(c.num_kv_heads)},
      {"llama.rope.freq_base", GgufValue::float32(static_cast<float>(c.rope_theta))},
      {"llama.attention.layer_norm_rms_epsilon", GgufValue::float32(static_cast<float>(c.rms_norm_eps))},
      {"general.file_type", GgufValue::uint32(file_type)},
      {"llama.vocab_size", u32(c.vocab_size)},
      {"llama.rope.dimension_count", u32(c.head_dim)},
      {"tokenizer.ggml.model", GgufValue::string("llama")},
      {"tokenizer.ggml.pre", GgufValue::string("default")},
      {"tokenizer.ggml.tokens", GgufValue::array(GgufType::STRING, std::move(tokens))},
      {"tokenizer.ggml.scores", GgufValue::array(GgufType::FLOAT32, std::move(scores))},
      {"tokenizer.ggml.token_type", GgufValue::array(GgufType::INT32, std::move(types))},
      {"tokenizer.ggml.bos_token_id", u32(c.bos_token_id)},
      {"tokenizer.ggml.eos_token_id", u32(c.eos_token_id)},
      // HF Llama tokenizers add BOS and not EOS; llama.cpp reads these to decide the same.
      {"tokenizer.ggml.add_bos_token", GgufValue::boolean(true)},
      {"tokenizer.ggml.add_eos_token", GgufValue::boolean(false)},
      {"general.quantization_version", GgufValue::uint32(2)},
  };
}

}  // namespace mp
