#include "lib/tokenizer/tokenizer.h"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "lib/base/error.h"
#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/hf_tokenizer.h"
#include "lib/tokenizer/tokenizer_backend.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input(path, "cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    fail_input(path, "not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A tokenizer.json, with the tokenizer_config.json beside it when there is one.
Tokenizer open_hf_json(const fs::path& file) {
  const fs::path config = file.parent_path() / "tokenizer_config.json";
  return Tokenizer::from_hf_json(read_json(file.string()),
                                 fs::exists(config) ? read_json(config.string()) : nlohmann::json(),
                                 file.string());
}

}  // namespace

Tokenizer Tokenizer::open(const std::string& dir_or_file) {
  const fs::path path(dir_or_file);
  if (fs::is_directory(path)) {
    if (fs::exists(path / "tokenizer.json")) return open_hf_json(path / "tokenizer.json");
    if (fs::exists(path / "tokenizer.model")) return from_file((path / "tokenizer.model").string());
    fail_input(dir_or_file, "no tokenizer.json or tokenizer.model (a tokenizer is needed to tokenize text)");
  }
  if (!fs::exists(path)) fail_input(dir_or_file, "no such file or directory");
  return ends_with(dir_or_file, ".json") ? open_hf_json(path) : from_file(dir_or_file);
}

Tokenizer Tokenizer::from_file(const std::string& path) { return Tokenizer(spm_backend_from_file(path), path); }

Tokenizer Tokenizer::from_proto(const std::string& serialized, const std::string& origin) {
  return Tokenizer(spm_backend_from_proto(serialized, origin), origin);
}

Tokenizer Tokenizer::from_hf_json(const nlohmann::json& doc, const std::string& origin) {
  return from_hf_json(doc, nlohmann::json(), origin);
}

Tokenizer Tokenizer::from_hf_json(const nlohmann::json& doc, const nlohmann::json& config, const std::string& origin) {
  return Tokenizer(hf_tokenizer_backend(doc, config, origin), origin);
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_special) const {
  std::vector<int32_t> ids = backend_->encode(text);
  if (!add_special) return ids;
  const SpecialTokens& s = backend_->specials();
  ids.insert(ids.begin(), s.prefix.begin(), s.prefix.end());
  ids.insert(ids.end(), s.suffix.begin(), s.suffix.end());
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const { return backend_->decode(ids); }

std::string Tokenizer::token_text(int32_t id, bool first_in_text) const {
  if (id < 0 || id >= vocab_size()) return "";  // a model's padding rows, as decode() treats them
  const std::string p = piece(id);
  switch (type(id)) {
    case TokenType::control:
    case TokenType::unknown:
    case TokenType::unused:
      return "";
    case TokenType::byte: {  // spelled "<0xAB>"; anything else is shown as spelled
      unsigned value = 0;
      const bool spelled = p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' &&
                           std::from_chars(p.data() + 3, p.data() + 5, value, 16).ptr == p.data() + 5;
      return spelled ? std::string(1, static_cast<char>(value)) : p;
    }
    default:
      break;
  }
  if (kind() == VocabKind::byte_level_bpe)  // added tokens are not byte-encoded
    return type(id) == TokenType::user_defined ? p : byte_level_decode(p);
  std::string out;
  static const std::string space = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  for (size_t i = 0; i < p.size();) {
    if (p.compare(i, space.size(), space) == 0) {
      if (!(first_in_text && i == 0)) out += ' ';
      i += space.size();
    } else {
      out += p[i++];
    }
  }
  return out;
}

int32_t Tokenizer::vocab_size() const { return backend_->vocab_size(); }
// The backends index their tables unchecked (SentencePiece's would read past its pieces).
static int32_t checked(const Tokenizer& tok, int32_t id) {
  if (id < 0 || id >= tok.vocab_size())
    fail_runtime(tok.origin() + ": token id " + std::to_string(id) + " is outside the tokenizer's " +
                 std::to_string(tok.vocab_size()) + " tokens");
  return id;
}
std::string Tokenizer::piece(int32_t id) const { return backend_->piece(checked(*this, id)); }
float Tokenizer::score(int32_t id) const { return backend_->score(checked(*this, id)); }
TokenType Tokenizer::type(int32_t id) const { return backend_->type(checked(*this, id)); }
int32_t Tokenizer::bos_id() const { return backend_->specials().bos; }
int32_t Tokenizer::eos_id() const { return backend_->specials().eos; }
int32_t Tokenizer::unk_id() const { return backend_->specials().unk; }
int32_t Tokenizer::pad_id() const { return backend_->specials().pad; }
bool Tokenizer::adds_bos() const {
  const auto& s = backend_->specials();
  return !s.prefix.empty() && s.prefix.front() == s.bos;
}
bool Tokenizer::adds_eos() const {
  const auto& s = backend_->specials();
  return !s.suffix.empty() && s.suffix.back() == s.eos;
}
VocabKind Tokenizer::kind() const { return backend_->kind(); }
std::vector<std::string> Tokenizer::merges() const { return backend_->merges(); }

std::string Tokenizer::serialized_proto() const {
  std::string proto = backend_->serialized_proto();
  if (proto.empty()) fail_input(origin_, "not a SentencePiece tokenizer (no SentencePiece model to serialize)");
  return proto;
}

}  // namespace mp
