// What Tokenizer (tokenizer.h) needs from a backend: the SentencePiece shim (spm_backend.cpp) or a
// tokenizer.json pipeline (hf_tokenizer.h). Backends encode without specials; Tokenizer adds them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"

namespace mp {

// The special tokens a backend defines, fixed when it is built (-1: none).
struct SpecialTokens {
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  std::vector<int32_t> prefix, suffix;  // what encode(text, add_special = true) puts around the text
};

class TokenizerBackend {
 public:
  virtual ~TokenizerBackend() = default;
  virtual std::vector<int32_t> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual std::string piece(int32_t id) const = 0;
  virtual float score(int32_t id) const = 0;
  virtual TokenType type(int32_t id) const = 0;
  virtual const SpecialTokens& specials() const = 0;
  virtual VocabKind kind() const = 0;
  virtual std::vector<std::string> merges() const = 0;
  // Empty when the backend is not SentencePiece.
  virtual std::string serialized_proto() const = 0;
};

// The SentencePiece backend (spm_backend.cpp); loaders fail_input naming origin.
std::shared_ptr<const TokenizerBackend> spm_backend_from_file(const std::string& path);
std::shared_ptr<const TokenizerBackend> spm_backend_from_proto(const std::string& serialized, const std::string& origin);

}  // namespace mp
