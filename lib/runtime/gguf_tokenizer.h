// The tokenizer a GGUF file's tokenizer.ggml.* keys describe, in our engines:
// - "llama" (SentencePiece): a SentencePiece model written by hand (lib/tokenizer/spm_proto.h);
// - "gpt2" (byte-level BPE): the tokenizer.json document llama.cpp's tokenizer amounts to (its
//   tokens and merges, the pre-tokenizer regexes of tokenizer.ggml.pre from
//   formats/gguf_pre_tokenizers.h, control and user-defined tokens as added tokens, BOS/EOS and
//   whether they are added from the GGUF keys or llama.cpp's defaults), read by the tokenizer.json
//   engine.
#pragma once
#include <nlohmann/json.hpp>

#include "formats/gguf_file.h"
#include "lib/tokenizer/tokenizer.h"

namespace mp {

Tokenizer gguf_tokenizer(const GgufFile& file);

// For "gpt2" files: the tokenizer.json document and the tokenizer_config.json document (special
// tokens, add_bos_token/add_eos_token) gguf_tokenizer hands to Tokenizer::from_hf_json.
std::pair<nlohmann::json, nlohmann::json> gguf_bpe_tokenizer_json(const GgufFile& file);

}  // namespace mp
