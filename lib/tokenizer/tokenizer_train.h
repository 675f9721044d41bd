// Trains a Llama-style SentencePiece tokenizer on a text file, into an HF-style directory
// (tokenizer.model + tokenizer_config.json) that every modelpress tool reads.
#pragma once
#include <cstdint>
#include <string>

namespace mp {

struct TokenizerTrainOptions {
  std::string text;             // training text, one sentence per line
  std::string out;              // directory, replaced atomically
  int64_t vocab_size = 1024;    // including <unk>, <s>, </s> and the 256 byte pieces
  std::string model_type = "bpe";  // bpe (as Llama) or unigram
  uint32_t seed = 0;
};

struct TokenizerTrainReport {
  int64_t vocab_size = 0;
  int64_t text_bytes = 0, text_tokens = 0;  // the training text, encoded by the new tokenizer
};

// Llama's settings: byte fallback, <unk>=0 <s>=1 </s>=2 and no padding piece, digits split, no
// normalization (identity, a dummy "▁" prefix, whitespace kept), all characters covered, one
// thread. Deterministic: the same text and options give a byte-identical tokenizer.model.
TokenizerTrainReport train_tokenizer(const TokenizerTrainOptions& options);

}  // namespace mp
