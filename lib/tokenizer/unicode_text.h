// UTF-8 walking and the character classes Hugging Face tokenizers takes from Rust's char methods,
// answered from utf8proc's Unicode tables.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace mp {

// Calls f(code_point, bytes) for each character; an invalid byte comes as code point -1.
template <typename F>
void for_each_code_point(std::string_view s, F&& f);

void append_utf8(std::string& out, int32_t code_point);
// Rust's char::is_whitespace (the White_Space property).
bool is_unicode_whitespace(int32_t code_point);
// Regex \w as Rust's regex crate has it: alphabetic, number, mark, connector punctuation.
bool is_word_character(int32_t code_point);
// [begin, end) of s without leading (left) and trailing (right) whitespace.
std::pair<size_t, size_t> trimmed_range(std::string_view s, bool left, bool right);
// The code point ending at byte `end` (-1 if invalid), and the one starting at `begin`.
int32_t code_point_before(std::string_view s, size_t end);
int32_t code_point_at(std::string_view s, size_t begin);

// The next character's length in bytes (1 for an invalid byte) and code point.
std::pair<size_t, int32_t> decode_utf8(std::string_view s, size_t at);

template <typename F>
void for_each_code_point(std::string_view s, F&& f) {
  for (size_t i = 0; i < s.size();) {
    const auto [len, cp] = decode_utf8(s, i);
    f(cp, s.substr(i, len));
    i += len;
  }
}

}  // namespace mp
