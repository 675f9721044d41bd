// tokenizer.json "pre_tokenizer": splits normalized text into the words the model encodes one by one.
// Split (every behavior, invert), ByteLevel, Digits, Metaspace, Whitespace, WhitespaceSplit,
// Punctuation, CharDelimiterSplit and Sequence, with Hugging Face tokenizers' semantics.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mp {

struct PreToken {
  std::string text;
  bool at_text_start;  // begins at offset 0 of the original text (Metaspace's prepend_scheme "first")
};

// Replaces each pre-token by its parts.
using PreTokenizer = std::function<void(std::vector<PreToken>&)>;

// null gives no splitting; an unknown type or a bad regex is a bad-input error naming origin.
PreTokenizer make_pre_tokenizer(const nlohmann::json& spec, const std::string& origin);

}  // namespace mp
