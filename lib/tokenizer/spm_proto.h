// A SentencePiece ModelProto written by hand in protobuf wire format, so a tokenizer can be rebuilt
// from a vocabulary stored elsewhere (a GGUF file) without linking protobuf next to LibTorch.
// Field numbers are those of sentencepiece_model.proto.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"

namespace mp {

struct SpmVocabulary {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;  // llama.cpp's numbering equals SentencePiece's Type enum
  int32_t unk_id = 0, bos_id = 1, eos_id = 2;
};

// A BPE model with byte fallback and Llama's normalization (no rules, a dummy "▁" prefix,
// whitespace kept as is): what llama.cpp's "llama" tokenizer implements.
std::string llama_spm_model_proto(const SpmVocabulary& vocab);

}  // namespace mp
