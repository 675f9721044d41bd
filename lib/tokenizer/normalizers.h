// tokenizer.json "normalizer": NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip and Sequence,
// with Hugging Face tokenizers' semantics (Unicode normalization by utf8proc).
#pragma once
#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace mp {

using Normalizer = std::function<std::string(std::string)>;

// null gives the identity; an unknown type is a bad-input error naming origin.
Normalizer make_normalizer(const nlohmann::json& spec, const std::string& origin);

}  // namespace mp
