#include "lib/runtime/gguf_model_source.h"

#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/tokenizer/spm_proto.h"

namespace mp {

namespace {

const GgufValue& required(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) fail_input(f.path(), "missing metadata key " + key);
  return *v;
}

// Integer keys are UINT32 in llama.cpp's files, but any integer type is read the same way.
int64_t integer(const GgufFile& f, const std::string& key, const GgufValue& v) {
  switch (v.type()) {
    case GgufType::UINT8: case GgufType::UINT16: case GgufType::UINT32: case GgufType::UINT64:
      return static_cast<int64_t>(v.as_uint());
    case GgufType::INT8: case GgufType::INT16: case GgufType::INT32: case GgufType::INT64:
      return v.as_int();
    default:
      fail_input(f.path(), key + " is " + gguf_type_name(v.type()) + ", expected an integer");
  }
}

// The keys llama.cpp reads for an architecture of lib/arch/, as the HF config.json they stand for.
nlohmann::json config_json(const GgufFile& f) {
  const std::string arch = required(f, "general.architecture").as_string();
  const Architecture& family = architecture_for_gguf(arch, f.path());
  auto u = [&](const std::string& key) { return integer(f, arch + "." + key, required(f, arch + "." + key)); };
  auto opt = [&](const std::string& key, const nlohmann::json& fallback) -> nlohmann::json {
    const GgufValue* v = f.find(key);
    if (!v) return fallback;
    return v->type() == GgufType::FLOAT32 || v->type() == GgufType::FLOAT64 ? nlohmann::json(v->as_float())
                                                                            : nlohmann::json(integer(f, key, *v));
  };
  const int64_t heads = u("attention.head_count");
  const int64_t hidden = u("embedding_length");
  const size_t vocab = required(f, "tokenizer.ggml.tokens").as_array().size();
  nlohmann::json j{
      {"model_type", family.model_type()},
      {"hidden_size", hidden},
      {"intermediate_size", u("feed_forward_length")},
      {"num_hidden_layers", u("block_count")},
      {"num_attention_heads", heads},
      {"num_key_value_heads", opt(arch + ".attention.head_count_kv", heads)},
      {"head_dim", opt(arch + ".attention.key_length", hidden / heads)},
      {"vocab_size", opt(arch + ".vocab_size", vocab)},
      {"max_position_embeddings", opt(arch + ".context_length", 2048)},
      {"rms_norm_eps", required(f, arch + ".attention.layer_norm_rms_epsilon").as_float()},
      {"rope_theta", opt(arch + ".rope.freq_base", 10000.0)},
      {"tie_word_embeddings", f.find_tensor("output.weight") == nullptr},
      {"bos_token_id", opt("tokenizer.ggml.bos_token_id", 1)},
      {"eos_token_id", opt("tokenizer.ggml.eos_token_id", 2)},
  };
  if (const GgufValue* scaling = f.find(arch + ".rope.scaling.type")) {
    if (scaling->as_string() != "linear" && scaling->as_string() != "none")
      fail_input(f.path(), arch + ".rope.scaling.type \"" + scaling->as_string() + "\" is not supported (linear)");
    if (scaling->as_string() == "linear")
      j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", required(f, arch + ".rope.scaling.factor").as_float()}};
  }
  family.read_gguf(f, j);
  return j;
}

}  // namespace

GgufModelSource::GgufModelSource(const std::string& path)
    : file_(path), config_(ModelConfig::from_json(config_json(file_), path)) {
  if (const GgufTensorInfo* freqs = file_.find_tensor(kGgufRopeFreqs)) {
    const at::Tensor factors = file_.tensor(*freqs).reshape({-1}).contiguous();
    if (factors.size(0) != config_.head_dim / 2)
      fail_input(path, std::string(kGgufRopeFreqs) + " has " + std::to_string(factors.size(0)) + " values, expected " +
                           std::to_string(config_.head_dim / 2));
    config_.rope_freq_factors.assign(factors.data_ptr<float>(), factors.data_ptr<float>() + factors.size(0));
  }
  for (const LlamaTensorName& name : llama_tensor_names(config_)) {
    const GgufTensorInfo* info = file_.find_tensor(name.gguf);
    if (info) names_.emplace(name.hf, name);
    else if (name.gguf != "output.weight") fail_input(path, "no tensor " + name.gguf);
  }
}

at::Tensor GgufModelSource::tensor(const std::string& name) const {
  const auto it = names_.find(name);
  if (it == names_.end()) fail_runtime(file_.path() + ": no tensor named " + name);
  at::Tensor t = file_.tensor(*file_.find_tensor(it->second.gguf));
  if (it->second.gguf_offset != 0) t = t - it->second.gguf_offset;
  return it->second.permute_heads > 0 ? gguf_to_hf_rows(t, it->second.permute_heads) : t;
}

Tokenizer GgufModelSource::tokenizer() const {
  const std::string model = required(file_, "tokenizer.ggml.model").as_string();
  if (model != "llama")
    fail_input(file_.path(), "tokenizer.ggml.model \"" + model + "\" is not supported (only llama: SentencePiece)");
  SpmVocabulary vocab;
  const auto& tokens = required(file_, "tokenizer.ggml.tokens").as_array();
  const auto& scores = required(file_, "tokenizer.ggml.scores").as_array();
  const auto& types = required(file_, "tokenizer.ggml.token_type").as_array();
  if (scores.size() != tokens.size() || types.size() != tokens.size())
    fail_input(file_.path(), "tokenizer.ggml.tokens, scores and token_type differ in length");
  for (size_t i = 0; i < tokens.size(); ++i) {
    vocab.pieces.push_back(tokens[i].as_string());
    vocab.scores.push_back(static_cast<float>(scores[i].as_float()));
    const int64_t type = integer(file_, "tokenizer.ggml.token_type", types[i]);
    if (type < 1 || type > 6) fail_input(file_.path(), "token " + std::to_string(i) + " has unknown type " + std::to_string(type));
    vocab.types.push_back(static_cast<TokenType>(type));
    if (vocab.types.back() == TokenType::unknown) vocab.unk_id = static_cast<int32_t>(i);
  }
  if (const GgufValue* v = file_.find("tokenizer.ggml.unknown_token_id"))
    vocab.unk_id = static_cast<int32_t>(integer(file_, "tokenizer.ggml.unknown_token_id", *v));
  vocab.bos_id = static_cast<int32_t>(config_.bos_token_id);
  vocab.eos_id = static_cast<int32_t>(config_.eos_token_id);
  return Tokenizer::from_proto(llama_spm_model_proto(vocab), file_.path());
}

}  // namespace mp
