#include "lib/runtime/gguf_tokenizer.h"

#include "formats/gguf_keys.h"
#include "formats/gguf_pre_tokenizers.h"
#include "lib/base/error.h"
#include "lib/tokenizer/spm_proto.h"

namespace mp {

namespace {

using json = nlohmann::json;

std::vector<TokenType> token_types(const GgufFile& f, size_t count) {
  const auto& types = gguf_required(f, "tokenizer.ggml.token_type").as_array();
  if (types.size() != count) fail_input(f.path(), "tokenizer.ggml.tokens and token_type differ in length");
  std::vector<TokenType> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const int64_t type = gguf_integer(f, "tokenizer.ggml.token_type", types[i]);
    if (type < 1 || type > 6) fail_input(f.path(), "token " + std::to_string(i) + " has unknown type " + std::to_string(type));
    out.push_back(static_cast<TokenType>(type));
  }
  return out;
}

// A special token id key, checked against the vocabulary; `fallback` when absent.
int64_t token_id(const GgufFile& f, const std::string& key, int64_t fallback, size_t count) {
  const GgufValue* v = f.find(key);
  if (!v) return fallback;
  const int64_t id = gguf_integer(f, key, *v);
  if (id < 0 || static_cast<size_t>(id) >= count)
    fail_input(f.path(), key + " " + std::to_string(id) + " is not a token id (" + std::to_string(count) + " tokens)");
  return id;
}

bool flag(const GgufFile& f, const std::string& key, bool fallback) {
  const GgufValue* v = f.find(key);
  if (!v) return fallback;
  if (v->type() != GgufType::BOOL) fail_input(f.path(), key + " must be a boolean");
  return v->as_bool();
}

Tokenizer sentencepiece_tokenizer(const GgufFile& f) {
  SpmVocabulary vocab;
  const auto& tokens = gguf_required(f, "tokenizer.ggml.tokens").as_array();
  const auto& scores = gguf_required(f, "tokenizer.ggml.scores").as_array();
  if (scores.size() != tokens.size()) fail_input(f.path(), "tokenizer.ggml.tokens and scores differ in length");
  vocab.types = token_types(f, tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    vocab.pieces.push_back(tokens[i].as_string());
    vocab.scores.push_back(static_cast<float>(scores[i].as_float()));
    if (vocab.types[i] == TokenType::unknown) vocab.unk_id = static_cast<int32_t>(i);
  }
  vocab.unk_id = static_cast<int32_t>(token_id(f, "tokenizer.ggml.unknown_token_id", vocab.unk_id, tokens.size()));
  // SentencePiece has exactly one unknown piece; llama.cpp also marks placeholder tokens unknown
  // (phi-3's 32011...), which it never produces from text: unused pieces to SentencePiece.
  for (size_t i = 0; i < tokens.size(); ++i)
    if (vocab.types[i] == TokenType::unknown && static_cast<int32_t>(i) != vocab.unk_id) vocab.types[i] = TokenType::unused;
  vocab.types[vocab.unk_id] = TokenType::unknown;
  vocab.bos_id = static_cast<int32_t>(token_id(f, "tokenizer.ggml.bos_token_id", 1, tokens.size()));
  vocab.eos_id = static_cast<int32_t>(token_id(f, "tokenizer.ggml.eos_token_id", 2, tokens.size()));
  return Tokenizer::from_proto(llama_spm_model_proto(vocab), f.path());
}

}  // namespace

std::pair<json, json> gguf_bpe_tokenizer_json(const GgufFile& f) {
  const std::string pre = f.find("tokenizer.ggml.pre") ? f.find("tokenizer.ggml.pre")->as_string() : "";
  const GgufPreTokenizer* splitter = find_pre_tokenizer(pre);
  if (!splitter)
    fail_input(f.path(), "tokenizer.ggml.pre \"" + pre + "\" is not supported (known: " + known_pre_tokenizer_names() + ")");
  const auto& tokens = gguf_required(f, "tokenizer.ggml.tokens").as_array();
  const std::vector<TokenType> types = token_types(f, tokens.size());

  json vocab = json::object(), added = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string text = tokens[i].as_string();
    if (text.empty()) text = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp names them
    vocab[text] = i;
    if (types[i] == TokenType::control || types[i] == TokenType::user_defined)
      added.push_back({{"id", i}, {"content", text}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", false}, {"special", types[i] == TokenType::control}});
  }
  json merges = json::array();
  for (const GgufValue& m : gguf_required(f, "tokenizer.ggml.merges").as_array()) {
    // llama.cpp splits at the first space after the first byte, so a merge may start with one.
    const std::string& text = m.as_string();
    const size_t at = text.find(' ', 1);
    if (at == std::string::npos) fail_input(f.path(), "tokenizer.ggml.merges has an entry without a space: \"" + text + "\"");
    merges.push_back(json::array({text.substr(0, at), text.substr(at + 1)}));
  }
  json split = json::array();
  for (const std::string& regex : splitter->regexes)
    split.push_back({{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}});
  split.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}});
  json doc = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", split}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
      {"model",
       {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}, {"ignore_merges", splitter->ignore_merges},
        {"byte_fallback", false}, {"fuse_unk", false}, {"dropout", nullptr}, {"unk_token", nullptr}}},
  };
  // llama.cpp's defaults for a BPE vocabulary: BOS and EOS both token 11 unless the keys say.
  json config = {{"add_bos_token", flag(f, "tokenizer.ggml.add_bos_token", splitter->adds_bos)},
                 {"add_eos_token", flag(f, "tokenizer.ggml.add_eos_token", false)}};
  const std::vector<std::pair<const char*, const char*>> specials = {{"bos_token", "tokenizer.ggml.bos_token_id"},
                                                                     {"eos_token", "tokenizer.ggml.eos_token_id"},
                                                                     {"unk_token", "tokenizer.ggml.unknown_token_id"},
                                                                     {"pad_token", "tokenizer.ggml.padding_token_id"}};
  for (const auto& [name, key] : specials) {
    const int64_t fallback = std::string(name) == "bos_token" || std::string(name) == "eos_token" ? 11 : -1;
    const int64_t id = token_id(f, key, fallback, tokens.size());
    if (id >= 0 && static_cast<size_t>(id) < tokens.size()) config[name] = tokens[id].as_string();
  }
  return {doc, config};
}

Tokenizer gguf_tokenizer(const GgufFile& f) {
  const std::string model = gguf_required(f, "tokenizer.ggml.model").as_string();
  if (model == "llama") return sentencepiece_tokenizer(f);
  if (model != "gpt2")
    fail_input(f.path(), "tokenizer.ggml.model \"" + model + "\" is not supported (llama: SentencePiece, gpt2: byte-level BPE)");
  const auto [doc, config] = gguf_bpe_tokenizer_json(f);
  return Tokenizer::from_hf_json(doc, config, f.path());
}

}  // namespace mp
