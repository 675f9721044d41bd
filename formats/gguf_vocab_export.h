// The tokenizer.* keys of an exported GGUF, chosen as llama.cpp's convert_hf_to_gguf.py chooses them:
// - a tokenizer.model beside the model (or a SentencePiece vocabulary read from elsewhere): "llama",
//   the pieces with their scores and types (_set_vocab_sentencepiece);
// - a SentencePiece-style tokenizer.json (BPE with byte fallback, a Sequence decoder) and no
//   tokenizer.model, for a llama-architecture model: "llama" with every score -1000 and types
//   byte/control/normal/user_defined (_set_vocab_llama_hf, gguf-py's LlamaHfVocab);
// - any other tokenizer.json (byte-level BPE, and every tokenizer.json of a qwen2 model): "gpt2",
//   tokens, token types and merges, with tokenizer.ggml.pre recognized by the hash of the check
//   text's ids (_set_vocab_gpt2, get_vocab_base_pre).
// Then the special token ids, add_bos/add_eos and the chat template (gguf-py's SpecialVocab).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_value.h"
#include "lib/runtime/model_source.h"

namespace mp {

// `arch` is the GGUF architecture ("llama", "qwen2"); `pre`, when not empty, replaces the detected
// tokenizer.ggml.pre of a "gpt2" vocabulary (a name llama.cpp knows, checked). An unrecognized
// pre-tokenizer is a bad-input error listing the known names.
std::vector<std::pair<std::string, GgufValue>> gguf_vocab_keys(const ModelSource& source, const std::string& arch,
                                                               const std::string& pre);

// tokenizer.ggml.pre for a byte-level BPE tokenizer: `pre` when given (checked against the names
// llama.cpp knows), else the converter's name for the hash of tok.encode(check text, with special
// tokens); an unknown hash is a bad-input error naming `where`.
std::string gguf_pre_tokenizer(const Tokenizer& tok, const std::string& where, const std::string& pre);

}  // namespace mp
