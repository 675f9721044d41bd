#include "lib/tokenizer/unicode_text.h"

#include <utf8proc.h>

namespace mp {

std::pair<size_t, int32_t> decode_utf8(std::string_view s, size_t at) {
  utf8proc_int32_t cp = -1;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + at),
                                  static_cast<utf8proc_ssize_t>(s.size() - at), &cp);
  if (n <= 0) return {1, -1};
  return {static_cast<size_t>(n), cp};
}

void append_utf8(std::string& out, int32_t code_point) {
  utf8proc_uint8_t buf[4];
  const auto n = utf8proc_encode_char(code_point, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

bool is_unicode_whitespace(int32_t cp) {
  // The White_Space property: the Z categories plus these controls.
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return true;
  if (cp < 0) return false;
  const auto c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

bool is_word_character(int32_t cp) {
  if (cp < 0) return false;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

int32_t code_point_at(std::string_view s, size_t begin) { return begin < s.size() ? decode_utf8(s, begin).second : -1; }

int32_t code_point_before(std::string_view s, size_t end) {
  if (end == 0) return -1;
  size_t begin = end - 1;
  while (begin > 0 && end - begin < 4 && (static_cast<unsigned char>(s[begin]) & 0xC0) == 0x80) --begin;
  const auto [len, cp] = decode_utf8(s, begin);
  return begin + len == end ? cp : -1;
}

std::pair<size_t, size_t> trimmed_range(std::string_view s, bool left, bool right) {
  size_t begin = 0, end = s.size();
  while (left && begin < end) {
    const auto [len, cp] = decode_utf8(s, begin);
    if (!is_unicode_whitespace(cp)) break;
    begin += len;
  }
  while (right && end > begin) {
    const int32_t cp = code_point_before(s, end);
    if (!is_unicode_whitespace(cp)) break;
    size_t len = 1;
    while ((static_cast<unsigned char>(s[end - len]) & 0xC0) == 0x80) ++len;
    end -= len;
  }
  return {begin, end};
}

}  // namespace mp
