#include "lib/tokenizer/decoders.h"

#include <memory>

#include "lib/base/error.h"
#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/hf_json_fields.h"
#include "lib/tokenizer/unicode_regex.h"

namespace mp {

namespace {

std::string join(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

// A "<0xAB>" token's byte, or -1.
int byte_token(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  const auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

Decoder metaspace(const nlohmann::json& spec, const std::string& origin) {
  const std::string replacement = hf_field<std::string>(spec, "replacement", "\xE2\x96\x81", origin);
  const bool legacy_prefix = hf_field<bool>(spec, "add_prefix_space", true, origin);
  const bool strips_first = hf_field<std::string>(spec, "prepend_scheme", legacy_prefix ? "always" : "never", origin) != "never";
  auto pattern = std::make_shared<const UnicodeRegex>(replacement, true, origin);
  return [pattern, strips_first](std::vector<std::string> tokens) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = pattern->replace_all(tokens[i], " ");
      if (i == 0 && strips_first && !tokens[i].empty() && tokens[i][0] == ' ') tokens[i].erase(0, 1);
    }
    return tokens;
  };
}

Decoder strip(const nlohmann::json& spec, const std::string& origin) {
  const std::string content = hf_required<std::string>(spec, "content", origin);
  const int64_t start = hf_field<int64_t>(spec, "start", 0, origin), stop = hf_field<int64_t>(spec, "stop", 0, origin);
  return [content, start, stop](std::vector<std::string> tokens) {
    for (std::string& t : tokens) {
      for (int64_t i = 0; i < start && t.compare(0, content.size(), content) == 0; ++i) t.erase(0, content.size());
      for (int64_t i = 0; i < stop && t.size() >= content.size() &&
                          t.compare(t.size() - content.size(), content.size(), content) == 0; ++i)
        t.erase(t.size() - content.size());
    }
    return tokens;
  };
}

Decoder byte_fallback() {
  return [](std::vector<std::string> tokens) {
    for (std::string& t : tokens)
      if (const int b = byte_token(t); b >= 0) t = std::string(1, static_cast<char>(b));
    return tokens;
  };
}

Decoder sequence(const nlohmann::json& spec, const std::string& origin) {
  const std::vector<Decoder> steps = hf_sequence(spec, "decoders", make_decoder, origin);
  return [steps](std::vector<std::string> tokens) {
    for (const auto& step : steps) tokens = step(std::move(tokens));
    return tokens;
  };
}

}  // namespace

Decoder make_decoder(const nlohmann::json& spec, const std::string& origin) {
  if (spec.is_null()) return nullptr;
  const std::string type = hf_type(spec, origin);
  if (type == "ByteLevel")
    return [](std::vector<std::string> tokens) { return std::vector<std::string>{byte_level_decode(join(tokens))}; };
  if (type == "Metaspace") return metaspace(spec, origin);
  if (type == "ByteFallback") return byte_fallback();
  if (type == "Fuse") return [](std::vector<std::string> tokens) { return std::vector<std::string>{join(tokens)}; };
  if (type == "Strip") return strip(spec, origin);
  if (type == "Replace") {
    const HfPattern pattern = hf_pattern(spec, origin);
    auto regex = std::make_shared<const UnicodeRegex>(pattern.text, !pattern.regex, origin);
    const std::string content = hf_field<std::string>(spec, "content", "", origin);
    return [regex, content](std::vector<std::string> tokens) {
      for (std::string& t : tokens) t = regex->replace_all(t, content);
      return tokens;
    };
  }
  if (type == "Sequence") return sequence(spec, origin);
  fail_input(origin, "decoder type " + type + " is not supported");
}

}  // namespace mp
