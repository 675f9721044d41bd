#include "lib/tokenizer/byte_level.h"

#include <array>
#include <cstdint>
#include <unordered_map>

namespace mp {

namespace {

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {  // the alphabet stays below U+0800
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

struct Alphabet {
  std::array<std::string, 256> spelling;
  std::unordered_map<uint32_t, uint8_t> byte_of;  // code point -> byte
  Alphabet() {
    // Printable Latin-1 bytes spell themselves; the others take code points from U+0100 up, in byte order.
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const uint32_t cp = printable ? b : next++;
      spelling[b] = utf8(cp);
      byte_of[cp] = static_cast<uint8_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet a;
  return a;
}

}  // namespace

std::string byte_level_encode(std::string_view bytes) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += a.spelling[b];
  return out;
}

std::string byte_level_decode(std::string_view text) {
  const Alphabet& a = alphabet();
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c0 = static_cast<unsigned char>(text[i]);
    if (c0 < 0x80) {  // printable ASCII spells itself; other ASCII is outside the alphabet
      out += text[i++];
      continue;
    }
    if ((c0 & 0xE0) == 0xC0 && i + 1 < text.size()) {
      const uint32_t cp = ((c0 & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
      const auto it = a.byte_of.find(cp);
      if (it != a.byte_of.end()) {
        out += static_cast<char>(it->second);
        i += 2;
        continue;
      }
    }
    out += text[i++];
  }
  return out;
}

}  // namespace mp
