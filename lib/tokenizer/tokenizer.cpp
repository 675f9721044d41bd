#include "lib/tokenizer/tokenizer.h"

#include "lib/base/error.h"
#include "lib/tokenizer/spm_module.h"

namespace mp {

namespace {
const SpmModule& shim() { return spm_module(); }
}  // namespace

struct Tokenizer::Handle {
  void* ptr;
  explicit Handle(void* p) : ptr(p) {}
  ~Handle() { shim().free(ptr); }
};

Tokenizer Tokenizer::from_file(const std::string& path) {
  char err[512] = {0};
  void* h = shim().load_file(path.c_str(), err, sizeof(err));
  if (!h) fail_input(path, std::string("not a SentencePiece model: ") + err);
  return Tokenizer(std::make_shared<Handle>(h), path);
}

Tokenizer Tokenizer::from_proto(const std::string& serialized, const std::string& origin) {
  char err[512] = {0};
  void* h = shim().load_proto(serialized.data(), serialized.size(), err, sizeof(err));
  if (!h) fail_input(origin, std::string("cannot build a SentencePiece tokenizer: ") + err);
  return Tokenizer(std::make_shared<Handle>(h), origin);
}

std::vector<int32_t> Tokenizer::encode(const std::string& text, bool add_bos) const {
  std::vector<int> ids(text.size() + 2);
  size_t n = shim().encode(handle_->ptr, text.data(), text.size(), ids.data(), ids.size());
  if (n > ids.size()) {
    ids.resize(n);
    shim().encode(handle_->ptr, text.data(), text.size(), ids.data(), ids.size());
  }
  std::vector<int32_t> out;
  out.reserve(n + 1);
  if (add_bos && bos_id() >= 0) out.push_back(bos_id());
  out.insert(out.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n));
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::vector<int> in(ids.begin(), ids.end());
  std::string out(ids.size() * 8 + 16, '\0');
  size_t n = shim().decode(handle_->ptr, in.data(), in.size(), out.data(), out.size());
  if (n > out.size()) {
    out.resize(n);
    shim().decode(handle_->ptr, in.data(), in.size(), out.data(), out.size());
  }
  out.resize(n);
  return out;
}

std::string Tokenizer::token_text(int32_t id, bool first_in_text) const {
  switch (type(id)) {
    case TokenType::control:
    case TokenType::unknown:
    case TokenType::unused:
      return "";
    case TokenType::byte: {
      // Byte pieces are spelled "<0xAB>".
      std::string p = piece(id);
      return std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
    }
    default: {
      std::string p = piece(id), out;
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
  }
}

int32_t Tokenizer::vocab_size() const { return shim().vocab_size(handle_->ptr); }
std::string Tokenizer::piece(int32_t id) const { return shim().piece(handle_->ptr, id); }
float Tokenizer::score(int32_t id) const { return shim().score(handle_->ptr, id); }
TokenType Tokenizer::type(int32_t id) const {
  return static_cast<TokenType>(shim().type(handle_->ptr, id));
}
int32_t Tokenizer::bos_id() const { return shim().special_id(handle_->ptr, 0); }
int32_t Tokenizer::eos_id() const { return shim().special_id(handle_->ptr, 1); }
int32_t Tokenizer::unk_id() const { return shim().special_id(handle_->ptr, 2); }
int32_t Tokenizer::pad_id() const { return shim().special_id(handle_->ptr, 3); }

std::string Tokenizer::serialized_proto() const {
  std::string out(1 << 20, '\0');
  size_t n = shim().serialize(handle_->ptr, out.data(), out.size());
  if (n > out.size()) {
    out.resize(n);
    shim().serialize(handle_->ptr, out.data(), out.size());
  }
  out.resize(n);
  return out;
}

}  // namespace mp
