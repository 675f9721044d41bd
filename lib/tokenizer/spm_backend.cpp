// The SentencePiece backend: every call goes through the isolated shim (spm_module.h).
#include "lib/base/error.h"
#include "lib/tokenizer/spm_module.h"
#include "lib/tokenizer/tokenizer_backend.h"

namespace mp {

namespace {

const SpmModule& shim() { return spm_module(); }

// The shim's calls return the full length and write at most `cap`; call again with room if larger.
// MPSPM_FAILED (SentencePiece's own error, in `err`) is reported as `origin`'s.
template <typename T, typename Call>
std::vector<T> grow_until_fits(size_t guess, const std::string& origin, const Call& call) {
  char err[512] = {0};
  std::vector<T> out(guess);
  size_t n = call(out.data(), out.size(), err, sizeof(err));
  if (n != MPSPM_FAILED && n > out.size()) {
    out.resize(n);
    n = call(out.data(), out.size(), err, sizeof(err));
  }
  if (n == MPSPM_FAILED) fail_input(origin, std::string("SentencePiece failed: ") + err);
  out.resize(n);
  return out;
}

class SpmBackend final : public TokenizerBackend {
 public:
  SpmBackend(void* handle, std::string origin) : handle_(handle), origin_(std::move(origin)) {
    specials_.bos = shim().special_id(handle_, 0);
    specials_.eos = shim().special_id(handle_, 1);
    specials_.unk = shim().special_id(handle_, 2);
    specials_.pad = shim().special_id(handle_, 3);
    // Llama's SentencePiece models: BOS before the text, as llama.cpp and HF add it.
    if (specials_.bos >= 0) specials_.prefix = {specials_.bos};
  }
  ~SpmBackend() override { shim().free(handle_); }
  SpmBackend(const SpmBackend&) = delete;
  SpmBackend& operator=(const SpmBackend&) = delete;

  std::vector<int32_t> encode(const std::string& text) const override {
    const auto ids = grow_until_fits<int>(text.size() + 2, origin_, [&](int* out, size_t cap, char* err, size_t err_len) {
      return shim().encode(handle_, text.data(), text.size(), out, cap, err, err_len);
    });
    return {ids.begin(), ids.end()};
  }
  // Ids the tokenizer does not have (a model's padding rows) have no text, as in the tokenizer.json backend.
  std::string decode(const std::vector<int32_t>& ids) const override {
    const int32_t pieces = vocab_size();  // one call into the shim, not one per id
    std::vector<int> in;
    for (int32_t id : ids)
      if (id >= 0 && id < pieces) in.push_back(id);
    const auto out = grow_until_fits<char>(in.size() * 8 + 16, origin_, [&](char* buf, size_t cap, char* err, size_t err_len) {
      return shim().decode(handle_, in.data(), in.size(), buf, cap, err, err_len);
    });
    return {out.begin(), out.end()};
  }
  int32_t vocab_size() const override { return shim().vocab_size(handle_); }
  std::string piece(int32_t id) const override { return shim().piece(handle_, id); }
  float score(int32_t id) const override { return shim().score(handle_, id); }
  TokenType type(int32_t id) const override { return static_cast<TokenType>(shim().type(handle_, id)); }
  const SpecialTokens& specials() const override { return specials_; }
  VocabKind kind() const override { return VocabKind::sentencepiece; }
  std::vector<std::string> merges() const override { return {}; }
  std::string serialized_proto() const override {
    const auto out = grow_until_fits<char>(1 << 20, origin_, [&](char* buf, size_t cap, char*, size_t) {
      return shim().serialize(handle_, buf, cap);
    });
    return {out.begin(), out.end()};
  }

 private:
  void* handle_;
  std::string origin_;
  SpecialTokens specials_;
};

}  // namespace

std::shared_ptr<const TokenizerBackend> spm_backend_from_file(const std::string& path) {
  char err[512] = {0};
  void* h = shim().load_file(path.c_str(), err, sizeof(err));
  if (!h) fail_input(path, std::string("not a SentencePiece model: ") + err);
  return std::make_shared<SpmBackend>(h, path);
}

std::shared_ptr<const TokenizerBackend> spm_backend_from_proto(const std::string& serialized, const std::string& origin) {
  char err[512] = {0};
  void* h = shim().load_proto(serialized.data(), serialized.size(), err, sizeof(err));
  if (!h) fail_input(origin, std::string("cannot build a SentencePiece tokenizer: ") + err);
  return std::make_shared<SpmBackend>(h, origin);
}

}  // namespace mp
