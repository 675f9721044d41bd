// SentencePiece tokenizer, reached through the isolated shim (see lib/tokenizer/spm/spm_shim.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mp {

// Token types as llama.cpp numbers them (tokenizer.ggml.token_type).
enum class TokenType : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

class Tokenizer {
 public:
  // A SentencePiece .model file.
  static Tokenizer from_file(const std::string& path);
  // A serialized SentencePiece ModelProto (e.g. rebuilt from a GGUF vocabulary).
  static Tokenizer from_proto(const std::string& serialized, const std::string& origin);

  // SentencePiece's encoding; add_bos prepends the BOS id as llama.cpp and HF do for Llama.
  std::vector<int32_t> encode(const std::string& text, bool add_bos) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  // The bytes a single token contributes to the text stream (byte pieces become their byte,
  // control tokens nothing); for printing tokens as they are generated.
  std::string token_text(int32_t id, bool first_in_text) const;

  int32_t vocab_size() const;
  std::string piece(int32_t id) const;
  float score(int32_t id) const;
  TokenType type(int32_t id) const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t unk_id() const;
  int32_t pad_id() const;
  std::string serialized_proto() const;
  const std::string& origin() const { return origin_; }

 private:
  struct Handle;
  Tokenizer(std::shared_ptr<Handle> handle, std::string origin)
      : handle_(std::move(handle)), origin_(std::move(origin)) {}
  std::shared_ptr<Handle> handle_;
  std::string origin_;
};

}  // namespace mp
