// tokenizer.json "decoder": token strings back to text. ByteLevel, Metaspace, ByteFallback, Fuse, Strip,
// Replace and Sequence, with Hugging Face tokenizers' semantics, except that bytes that do not form
// valid UTF-8 are kept as they are (tokenizers writes U+FFFD), so a caller can join partial outputs.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mp {

// Maps the token strings of a whole text to new token strings (Hugging Face's decode_chain).
using Decoder = std::function<std::vector<std::string>(std::vector<std::string>)>;

// null gives plain concatenation; an unknown type is a bad-input error naming origin.
Decoder make_decoder(const nlohmann::json& spec, const std::string& origin);

}  // namespace mp
