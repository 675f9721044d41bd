// GPT-2's byte-level alphabet: every byte is spelled as one printable Unicode character, so byte-level
// BPE vocabularies (Llama 3, Qwen, DeepSeek) hold only printable strings.
#pragma once
#include <string>
#include <string_view>

namespace mp {

// Each byte of `bytes` as its alphabet character (UTF-8).
std::string byte_level_encode(std::string_view bytes);
// The inverse; characters outside the alphabet are kept as they are.
std::string byte_level_decode(std::string_view text);

}  // namespace mp
