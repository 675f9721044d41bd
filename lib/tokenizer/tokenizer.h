// Text to token ids and back, one interface over two backends: SentencePiece .model files (through the
// isolated shim, lib/tokenizer/spm/spm_shim.h) and Hugging Face tokenizer.json files (hf_tokenizer.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mp {

// Token types as llama.cpp numbers them (tokenizer.ggml.token_type).
enum class TokenType : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

// What a vocabulary is, as GGUF's tokenizer.ggml.model names it: "llama" (SentencePiece pieces with
// U+2581 for spaces and <0xAB> byte pieces, scored) or "gpt2" (byte-level BPE with merges).
enum class VocabKind { sentencepiece, byte_level_bpe };

// One backend's implementation (SentencePiece or tokenizer.json); see tokenizer_backend.h.
class TokenizerBackend;

class Tokenizer {
 public:
  // A model directory or a tokenizer file. In a directory tokenizer.json wins over tokenizer.model, as in
  // transformers' fast tokenizers; tokenizer_config.json beside a tokenizer.json gives the bos/eos/pad/unk
  // tokens and add_bos_token/add_eos_token where its post-processor does not. A file ending in .json is
  // a tokenizer.json, anything else a SentencePiece model.
  static Tokenizer open(const std::string& dir_or_file);
  // A SentencePiece .model file.
  static Tokenizer from_file(const std::string& path);
  // A serialized SentencePiece ModelProto (e.g. rebuilt from a GGUF vocabulary).
  static Tokenizer from_proto(const std::string& serialized, const std::string& origin);
  // A tokenizer.json document; origin names it in messages. config is tokenizer_config.json's document
  // (or null).
  static Tokenizer from_hf_json(const nlohmann::json& doc, const std::string& origin);
  static Tokenizer from_hf_json(const nlohmann::json& doc, const nlohmann::json& config, const std::string& origin);

  // add_special: the BOS/EOS this tokenizer adds around a text (adds_bos(), adds_eos()).
  std::vector<int32_t> encode(const std::string& text, bool add_special) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  // The bytes a single token contributes to the text stream (control tokens nothing); for printing
  // tokens as they are generated. A byte-fallback token of a split UTF-8 character gives its one byte.
  std::string token_text(int32_t id, bool first_in_text) const;

  int32_t vocab_size() const;
  std::string piece(int32_t id) const;
  // SentencePiece: the piece's score; tokenizer.json: the vocab score as llama.cpp's HF converter
  // derives it (-id for BPE vocabularies).
  float score(int32_t id) const;
  TokenType type(int32_t id) const;
  // -1: none.
  int32_t bos_id() const;
  int32_t eos_id() const;
  int32_t unk_id() const;
  int32_t pad_id() const;
  // What encode(text, true) adds.
  bool adds_bos() const;
  bool adds_eos() const;
  VocabKind kind() const;
  // BPE merges "a b" in rank order; empty for SentencePiece models.
  std::vector<std::string> merges() const;
  // SentencePiece models only (a bad-input error naming origin() otherwise).
  std::string serialized_proto() const;
  const std::string& origin() const { return origin_; }

 private:
  Tokenizer(std::shared_ptr<const TokenizerBackend> backend, std::string origin)
      : backend_(std::move(backend)), origin_(std::move(origin)) {}
  std::shared_ptr<const TokenizerBackend> backend_;
  std::string origin_;
};

}  // namespace mp
