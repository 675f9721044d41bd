#include "formats/gguf_vocab_export.h"

#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "formats/gguf_pre_tokenizers.h"
#include "formats/hf_config.h"
#include "formats/hf_special_vocab.h"
#include "lib/base/error.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

using json = nlohmann::json;
using Keys = std::vector<std::pair<std::string, GgufValue>>;

struct VocabArrays {
  std::vector<GgufValue> tokens, scores, types;
  void add(const std::string& token, TokenType type, float score = 0) {
    tokens.push_back(GgufValue::string(token));
    types.push_back(GgufValue::int32(static_cast<int32_t>(type)));
    scores.push_back(GgufValue::float32(score));
  }
};

// The converter's does_token_look_special: added tokens some models forgot to mark special.
bool looks_special(const std::string& t) {
  auto wrapped = [&](const std::string& open, const std::string& close) {
    return t.size() >= open.size() + close.size() && t.compare(0, open.size(), open) == 0 &&
           t.compare(t.size() - close.size(), close.size(), close) == 0;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wrapped("<unused", ">");
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

class PieceIndex {
 public:
  explicit PieceIndex(const Tokenizer& tok) {
    for (int32_t id = 0; id < tok.vocab_size(); ++id) ids_.emplace(tok.piece(id), id);
  }
  int32_t id(const std::string& piece) const {
    const auto it = ids_.find(piece);
    return it == ids_.end() ? -1 : it->second;
  }

 private:
  std::unordered_map<std::string, int32_t> ids_;
};

// SpecialVocab from the model directory; a source that is not one (a GGUF file) keeps what its
// tokenizer knows.
HfSpecialVocab special_vocab(const ModelSource& source, const Tokenizer& tok, int64_t n_vocab) {
  if (!fs::is_directory(source.path())) {
    HfSpecialVocab v;
    if (tok.bos_id() >= 0) v.token_ids.emplace_back("bos", tok.bos_id());
    if (tok.eos_id() >= 0) v.token_ids.emplace_back("eos", tok.eos_id());
    v.add_tokens = {{"bos", tok.adds_bos()}, {"eos", tok.adds_eos()}};
    return v;
  }
  const PieceIndex index(tok);
  return read_hf_special_vocab(source.path(), n_vocab, [&](const std::string& t) { return index.id(t) >= 0; });
}

Keys sentencepiece_keys(const ModelSource& source, const Tokenizer& tok) {
  VocabArrays v;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) v.add(tok.piece(id), tok.type(id), tok.score(id));
  HfSpecialVocab special = special_vocab(source, tok, tok.vocab_size());
  // HF Llama's behaviour where tokenizer_config.json does not say: BOS added, EOS not.
  for (const auto& [type, add] : std::vector<std::pair<std::string, bool>>{{"bos", true}, {"eos", false}}) {
    bool given = false;
    for (const auto& entry : special.add_tokens) given |= entry.first == type;
    if (!given) special.add_tokens.emplace_back(type, add);
  }
  Keys keys = {{"tokenizer.ggml.model", GgufValue::string("llama")},
               {"tokenizer.ggml.pre", GgufValue::string("default")},
               {"tokenizer.ggml.tokens", GgufValue::array(GgufType::STRING, std::move(v.tokens))},
               {"tokenizer.ggml.scores", GgufValue::array(GgufType::FLOAT32, std::move(v.scores))},
               {"tokenizer.ggml.token_type", GgufValue::array(GgufType::INT32, std::move(v.types))}};
  for (auto& kv : special_vocab_gguf_keys(special)) keys.push_back(std::move(kv));
  return keys;
}

// The tokens transformers counts as special (all_special_tokens) for a tokenizer_config.json.
std::vector<std::string> all_special_tokens(const json& config) {
  std::vector<std::string> out;
  auto take = [&](const json& entry) {
    if (entry.is_string()) out.push_back(entry.get<std::string>());
    else if (entry.is_object() && entry.value("content", json()).is_string()) out.push_back(entry["content"].get<std::string>());
  };
  if (!config.is_object()) return out;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"})
    take(config.value(key, json()));
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"})
    for (const json& entry : config.value(key, json::array())) take(entry);
  return out;
}

// gguf-py's LlamaHfVocab: the model's own vocabulary, then added tokens past it; no scores.
Keys llama_hf_keys(const ModelSource& source, const Tokenizer& tok, const json& tokenizer_json) {
  const fs::path config_path = fs::path(source.path()) / "tokenizer_config.json";
  const json config = fs::exists(config_path) ? read_json_file(config_path.string()) : json();
  const PieceIndex index(tok);
  std::vector<bool> special(tok.vocab_size(), false);
  for (const std::string& t : all_special_tokens(config))
    if (const int32_t id = index.id(t); id >= 0) special[id] = true;
  const int32_t base = static_cast<int32_t>(tokenizer_json["model"]["vocab"].size());
  constexpr float kScore = -1000.0f;
  VocabArrays v;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    const std::string piece = tok.piece(id);
    const bool byte = piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>' &&
                      std::isxdigit(static_cast<unsigned char>(piece[3])) && std::isxdigit(static_cast<unsigned char>(piece[4]));
    if (id < base)
      v.add(piece, byte ? TokenType::byte : special[id] ? TokenType::control : TokenType::normal, kScore);
    else
      v.add(piece, special[id] ? TokenType::control : TokenType::user_defined, kScore);
  }
  Keys keys = {{"tokenizer.ggml.model", GgufValue::string("llama")},
               {"tokenizer.ggml.pre", GgufValue::string("default")},
               {"tokenizer.ggml.tokens", GgufValue::array(GgufType::STRING, std::move(v.tokens))},
               {"tokenizer.ggml.scores", GgufValue::array(GgufType::FLOAT32, std::move(v.scores))},
               {"tokenizer.ggml.token_type", GgufValue::array(GgufType::INT32, std::move(v.types))}};
  for (auto& kv : special_vocab_gguf_keys(special_vocab(source, tok, tok.vocab_size()))) keys.push_back(std::move(kv));
  return keys;
}

// _set_vocab_gpt2: byte-level BPE tokens padded to the model's vocab_size, added tokens typed.
Keys gpt2_keys(const ModelSource& source, const Tokenizer& tok, const json& tokenizer_json, const std::string& pre) {
  const int64_t vocab_size = source.config().vocab_size;
  if (tok.vocab_size() > vocab_size)
    fail_input(source.path(), "tokenizer has " + std::to_string(tok.vocab_size()) + " tokens but vocab_size is " +
                                  std::to_string(vocab_size));
  std::map<int32_t, bool> added;  // id -> special
  if (tokenizer_json.is_object()) {
    for (const json& t : tokenizer_json.value("added_tokens", json::array()))
      if (t.is_object() && t.value("id", json()).is_number_integer()) added[t["id"].get<int32_t>()] = t.value("special", false);
  } else {  // a vocabulary read back from a GGUF file keeps its types
    for (int32_t id = 0; id < tok.vocab_size(); ++id)
      if (tok.type(id) == TokenType::control || tok.type(id) == TokenType::user_defined)
        added[id] = tok.type(id) == TokenType::control;
  }
  VocabArrays v;
  for (int32_t id = 0; id < vocab_size; ++id) {
    const std::string piece = id < tok.vocab_size() ? tok.piece(id) : "";
    const auto a = added.find(id);
    if (piece.empty())
      v.add("[PAD" + std::to_string(id) + "]", TokenType::unused);
    else if (a == added.end())
      v.add(piece, TokenType::normal);
    else if (a->second || looks_special(piece))
      v.add(piece, TokenType::control);
    else  // the converter writes user-defined spaces as spaces
      v.add(replace_all(piece, "\xE2\x96\x81", " "), TokenType::user_defined);
  }
  std::vector<GgufValue> merges;
  for (const std::string& m : tok.merges()) merges.push_back(GgufValue::string(m));
  Keys keys = {{"tokenizer.ggml.model", GgufValue::string("gpt2")},
               {"tokenizer.ggml.pre", GgufValue::string(gguf_pre_tokenizer(tok, source.path(), pre))},
               {"tokenizer.ggml.tokens", GgufValue::array(GgufType::STRING, std::move(v.tokens))},
               {"tokenizer.ggml.token_type", GgufValue::array(GgufType::INT32, std::move(v.types))},
               {"tokenizer.ggml.merges", GgufValue::array(GgufType::STRING, std::move(merges))}};
  for (auto& kv : special_vocab_gguf_keys(special_vocab(source, tok, std::numeric_limits<int64_t>::max())))
    keys.push_back(std::move(kv));
  return keys;
}

// LlamaHfVocab's test for a SentencePiece model converted to tokenizer.json.
bool sentencepiece_style(const json& doc) {
  const json model = doc.value("model", json()), decoder = doc.value("decoder", json());
  return model.is_object() && model.value("type", "") == "BPE" && model.value("byte_fallback", false) &&
         decoder.is_object() && decoder.value("type", "") == "Sequence";
}

}  // namespace

std::string gguf_pre_tokenizer(const Tokenizer& tok, const std::string& where, const std::string& pre) {
  if (!pre.empty()) {
    if (!find_pre_tokenizer(pre))
      fail_input(pre, "not a pre-tokenizer modelpress knows (known: " + known_pre_tokenizer_names() + ")");
    return pre;
  }
  const std::string hash = pre_tokenizer_check_hash(tok.encode(pre_tokenizer_check_text(), true));
  const std::string name = pre_tokenizer_for_hash(hash);
  if (name.empty())
    fail_input(where, "the tokenizer's pre-tokenizer is not one llama.cpp's converter recognizes (check hash " + hash +
                          "); if it splits text as one of " + known_pre_tokenizer_names() + ", name it with --pre");
  return name;
}

Keys gguf_vocab_keys(const ModelSource& source, const std::string& arch, const std::string& pre) {
  const fs::path dir(source.path());
  const bool is_dir = fs::is_directory(dir);
  Keys keys;
  json tokenizer_json;
  if (is_dir) {
    // LlamaModel passes tokenizer_config.json's add_prefix_space on before the vocabulary.
    const fs::path config = dir / "tokenizer_config.json";
    if (arch == "llama" && fs::exists(config))
      if (const json c = read_json_file(config.string()); c.is_object() && c.value("add_prefix_space", json()).is_boolean())
        keys.emplace_back("tokenizer.ggml.add_space_prefix", GgufValue::boolean(c["add_prefix_space"].get<bool>()));
    if (fs::exists(dir / "tokenizer.model")) {
      const Tokenizer spm = Tokenizer::from_file((dir / "tokenizer.model").string());
      for (auto& kv : sentencepiece_keys(source, spm)) keys.push_back(std::move(kv));
      return keys;
    }
    if (fs::exists(dir / "tokenizer.json")) tokenizer_json = read_json_file((dir / "tokenizer.json").string());
  }
  const Tokenizer tok = source.tokenizer();
  Keys vocab = !tokenizer_json.is_null() ? (arch == "llama" && sentencepiece_style(tokenizer_json)
                                                 ? llama_hf_keys(source, tok, tokenizer_json)
                                                 : gpt2_keys(source, tok, tokenizer_json, pre))
               : tok.kind() == VocabKind::sentencepiece ? sentencepiece_keys(source, tok)
                                                        : gpt2_keys(source, tok, tokenizer_json, pre);
  for (auto& kv : vocab) keys.push_back(std::move(kv));
  return keys;
}

}  // namespace mp
