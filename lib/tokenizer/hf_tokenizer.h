// The tokenizer.json backend: Hugging Face tokenizers' pipeline (added tokens, normalizer,
// pre-tokenizer, BPE model, post-processor, decoder), one stage per file in this folder.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "lib/tokenizer/tokenizer_backend.h"

namespace mp {

// doc: a tokenizer.json document; config: tokenizer_config.json's (null if none). Anything malformed or
// unsupported is a one-line bad-input error naming origin.
std::shared_ptr<const TokenizerBackend> hf_tokenizer_backend(const nlohmann::json& doc, const nlohmann::json& config,
                                                             const std::string& origin);

}  // namespace mp
