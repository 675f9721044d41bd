#include "lib/tokenizer/hf_tokenizer.h"

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "lib/base/error.h"
#include "lib/tokenizer/added_tokens.h"
#include "lib/tokenizer/bpe_model.h"
#include "lib/tokenizer/decoders.h"
#include "lib/tokenizer/hf_json_fields.h"
#include "lib/tokenizer/normalizers.h"
#include "lib/tokenizer/pre_tokenizers.h"
#include "lib/tokenizer/special_tokens.h"

namespace mp {

namespace {

std::vector<AddedToken> read_added_tokens(const nlohmann::json& list, const std::string& origin) {
  std::vector<AddedToken> out;
  if (list.is_null()) return out;
  if (!list.is_array()) fail_input(origin, "added_tokens is not a list");
  for (const auto& t : list) {
    AddedToken a;
    a.id = hf_required<int32_t>(t, "id", origin);
    if (a.id < 0) fail_input(origin, "added token id " + std::to_string(a.id) + " is negative");
    a.content = hf_required<std::string>(t, "content", origin);
    a.special = hf_field<bool>(t, "special", false, origin);
    a.lstrip = hf_field<bool>(t, "lstrip", false, origin);
    a.rstrip = hf_field<bool>(t, "rstrip", false, origin);
    a.single_word = hf_field<bool>(t, "single_word", false, origin);
    a.normalized = hf_field<bool>(t, "normalized", !a.special, origin);
    out.push_back(std::move(a));
  }
  return out;
}

// Whether a component tree uses byte-level spelling (GGUF's "gpt2" vocabularies).
bool uses_byte_level(const nlohmann::json& spec) {
  if (spec.is_object()) {
    if (spec.value("type", "") == "ByteLevel") return true;
    for (const auto& [key, value] : spec.items())
      if (value.is_array() && uses_byte_level(value)) return true;
  } else if (spec.is_array()) {
    for (const auto& v : spec)
      if (uses_byte_level(v)) return true;
  }
  return false;
}

bool is_byte_piece(const std::string& p) {
  return p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' && std::isxdigit(static_cast<unsigned char>(p[3])) &&
         std::isxdigit(static_cast<unsigned char>(p[4]));
}

class HfTokenizer final : public TokenizerBackend {
 public:
  HfTokenizer(const nlohmann::json& doc, const nlohmann::json& config, const std::string& origin)
      : model_(hf_required<nlohmann::json>(doc, "model", origin), origin) {
    if (!doc.is_object()) fail_input(origin, "not a tokenizer.json object");
    normalizer_ = make_normalizer(doc.value("normalizer", nlohmann::json()), origin);
    pre_tokenizer_ = make_pre_tokenizer(doc.value("pre_tokenizer", nlohmann::json()), origin);
    decoder_ = make_decoder(doc.value("decoder", nlohmann::json()), origin);
    kind_ = uses_byte_level(doc.value("pre_tokenizer", nlohmann::json())) || uses_byte_level(doc.value("decoder", nlohmann::json()))
                ? VocabKind::byte_level_bpe
                : VocabKind::sentencepiece;
    build_vocabulary(read_added_tokens(doc.value("added_tokens", nlohmann::json()), origin), origin);
    specials_ = hf_special_tokens(doc.value("post_processor", nlohmann::json()), config, model_.unk_id(),
                                  [this](const std::string& t) { return id_of(t); }, origin);
    for (int32_t id : specials_.prefix) check_id(id, origin);
    for (int32_t id : specials_.suffix) check_id(id, origin);
  }

  std::vector<int32_t> encode(const std::string& text) const override {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    if (raw_tokens_.empty()) {
      encode_normalizing(text, true, ids);
      return ids;
    }
    for (const TextSegment& s : raw_tokens_.split(text)) {
      if (s.id >= 0) ids.push_back(s.id);
      else encode_normalizing(text.substr(s.begin, s.end - s.begin), s.begin == 0, ids);
    }
    return ids;
  }

  std::string decode(const std::vector<int32_t>& ids) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids)
      if (id >= 0 && id < vocab_size() && types_[id] != TokenType::control) tokens.push_back(pieces_[id]);
    if (decoder_) tokens = decoder_(std::move(tokens));
    std::string out;
    for (const auto& t : tokens) out += t;
    return out;
  }

  int32_t vocab_size() const override { return static_cast<int32_t>(pieces_.size()); }
  std::string piece(int32_t id) const override { return pieces_.at(id); }
  float score(int32_t id) const override { return scores_.at(id); }
  TokenType type(int32_t id) const override { return types_.at(id); }
  const SpecialTokens& specials() const override { return specials_; }
  VocabKind kind() const override { return kind_; }
  std::vector<std::string> merges() const override { return model_.merges(); }
  std::string serialized_proto() const override { return ""; }

 private:
  int32_t id_of(const std::string& token) const {
    const auto it = added_ids_.find(token);
    return it != added_ids_.end() ? it->second : model_.id_of(token);
  }

  void check_id(int32_t id, const std::string& origin) const {
    if (id < 0 || id >= vocab_size()) fail_input(origin, "special token id " + std::to_string(id) + " is outside the vocabulary");
  }

  // The model's vocab plus the added tokens; their types and scores; the two added-token matchers.
  void build_vocabulary(std::vector<AddedToken> added, const std::string& origin) {
    pieces_ = model_.vocab();
    std::vector<bool> is_added;
    std::vector<AddedToken> raw, normalized;
    for (AddedToken& a : added) {
      if (static_cast<size_t>(a.id) >= pieces_.size()) pieces_.resize(a.id + 1);
      is_added.resize(pieces_.size());
      if (is_added[a.id]) fail_input(origin, "added token id " + std::to_string(a.id) + " is given twice");
      const int32_t in_model = model_.id_of(a.content);
      if (in_model >= 0 && in_model != a.id)
        fail_input(origin, "added token \"" + a.content + "\" has id " + std::to_string(a.id) + " but the vocab gives it " + std::to_string(in_model));
      if (!pieces_[a.id].empty() && pieces_[a.id] != a.content)
        fail_input(origin, "added token id " + std::to_string(a.id) + " is \"" + a.content + "\" but the vocab's token is \"" + pieces_[a.id] + "\"");
      is_added[a.id] = true;
      pieces_[a.id] = a.content;
      added_ids_[a.content] = a.id;
      if (a.normalized && normalizer_) {
        a.content = normalizer_(a.content);  // matched in normalized text, so spelled as normalized
        normalized.push_back(a);
      } else {
        raw.push_back(a);
      }
    }
    is_added.resize(pieces_.size());
    types_.assign(pieces_.size(), TokenType::normal);
    scores_.assign(pieces_.size(), 0.0f);
    // Scores as SentencePiece BPE has them: a token made by merge r scores -r (so llama.cpp's
    // score-ordered merging follows the merge ranks), single characters below every merge.
    const std::vector<std::string> merges = model_.merges();
    std::vector<bool> made_by_merge(pieces_.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const size_t space = merges[rank].find(' ');
      const int32_t id = model_.id_of(merges[rank].substr(0, space) + merges[rank].substr(space + 1));
      if (id >= 0 && !made_by_merge[id]) {
        made_by_merge[id] = true;
        scores_[id] = -static_cast<float>(rank);
      }
    }
    for (int32_t id = 0; id < vocab_size(); ++id) {
      if (!is_added[id] && model_.id_of(pieces_[id]) != id)
        fail_input(origin, "no token has id " + std::to_string(id) + " (ids must run from 0 without gaps)");
      if (!made_by_merge[id] && !is_added[id]) scores_[id] = -static_cast<float>(merges.size() + id);
      if (id == model_.unk_id()) types_[id] = TokenType::unknown;
      else if (model_.byte_fallback() && is_byte_piece(pieces_[id])) types_[id] = TokenType::byte;
    }
    for (const AddedToken& a : added) types_[a.id] = a.special ? TokenType::control : TokenType::user_defined;
    raw_tokens_ = AddedTokenMatcher(std::move(raw));
    normalized_tokens_ = AddedTokenMatcher(std::move(normalized));
  }

  // Normalizes a stretch between raw added tokens, splits out normalized added tokens, encodes the rest.
  void encode_normalizing(const std::string& text, bool at_text_start, std::vector<int32_t>& ids) const {
    const std::string normalized = normalizer_ ? normalizer_(text) : text;
    if (normalized_tokens_.empty()) return encode_words(normalized, at_text_start, ids);
    for (const TextSegment& s : normalized_tokens_.split(normalized)) {
      if (s.id >= 0) ids.push_back(s.id);
      else encode_words(normalized.substr(s.begin, s.end - s.begin), at_text_start && s.begin == 0, ids);
    }
  }

  void encode_words(std::string text, bool at_text_start, std::vector<int32_t>& ids) const {
    if (text.empty()) return;
    if (!pre_tokenizer_) return model_.encode_word(text, ids);
    thread_local std::vector<PreToken> words;
    words.assign(1, PreToken{std::move(text), at_text_start});
    pre_tokenizer_(words);
    for (const PreToken& w : words) model_.encode_word(w.text, ids);
  }

  BpeModel model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  Decoder decoder_;
  VocabKind kind_ = VocabKind::byte_level_bpe;
  std::vector<std::string> pieces_;
  std::vector<TokenType> types_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> added_ids_;
  AddedTokenMatcher raw_tokens_{{}}, normalized_tokens_{{}};
  SpecialTokens specials_;
};

}  // namespace

std::shared_ptr<const TokenizerBackend> hf_tokenizer_backend(const nlohmann::json& doc, const nlohmann::json& config,
                                                             const std::string& origin) {
  if (!doc.is_object()) fail_input(origin, "not a tokenizer.json object");
  return std::make_shared<HfTokenizer>(doc, config, origin);
}

}  // namespace mp
