#include "lib/tokenizer/normalizers.h"

#include <utf8proc.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "lib/base/error.h"
#include "lib/tokenizer/hf_json_fields.h"
#include "lib/tokenizer/unicode_regex.h"
#include "lib/tokenizer/unicode_text.h"

namespace mp {

namespace {

Normalizer unicode_form(utf8proc_option_t options) {
  return [options](std::string s) {
    // ASCII is already in every normalization form; most text is, so skip the copy.
    if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) return s;
    utf8proc_uint8_t* out = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                                &out, static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
    if (n < 0) return s;  // not valid UTF-8: Hugging Face's input is always valid, so leave it untouched
    std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
    free(out);
    return result;
  };
}

std::string lowercase(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for_each_code_point(s, [&](int32_t cp, std::string_view bytes) {
    if (cp < 0) out.append(bytes);
    else append_utf8(out, utf8proc_tolower(cp));
  });
  return out;
}

Normalizer strip(bool left, bool right) {
  return [left, right](std::string s) {
    const auto [begin, end] = trimmed_range(s, left, right);
    return s.substr(begin, end - begin);
  };
}

Normalizer replace(const nlohmann::json& spec, const std::string& origin) {
  const HfPattern pattern = hf_pattern(spec, origin);
  auto regex = std::make_shared<UnicodeRegex>(pattern.text, !pattern.regex, origin);
  const std::string content = hf_field<std::string>(spec, "content", "", origin);
  return [regex, content](std::string s) { return regex->replace_all(s, content); };
}

Normalizer sequence(const nlohmann::json& spec, const std::string& origin) {
  const std::vector<Normalizer> steps = hf_sequence(spec, "normalizers", make_normalizer, origin);
  if (steps.empty()) return nullptr;
  return [steps](std::string s) {
    for (const auto& step : steps) s = step(std::move(s));
    return s;
  };
}

}  // namespace

Normalizer make_normalizer(const nlohmann::json& spec, const std::string& origin) {
  if (spec.is_null()) return nullptr;
  const std::string type = hf_type(spec, origin);
  if (type == "NFC") return unicode_form(UTF8PROC_COMPOSE);
  if (type == "NFD") return unicode_form(UTF8PROC_DECOMPOSE);
  if (type == "NFKC") return unicode_form(static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
  if (type == "NFKD") return unicode_form(static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
  if (type == "Lowercase") return [](std::string s) { return lowercase(s); };
  if (type == "Strip")
    return strip(hf_field<bool>(spec, "strip_left", true, origin), hf_field<bool>(spec, "strip_right", true, origin));
  if (type == "Replace") return replace(spec, origin);
  if (type == "Prepend") {
    const std::string prefix = hf_required<std::string>(spec, "prepend", origin);
    return [prefix](std::string s) { return s.empty() ? s : prefix + s; };
  }
  if (type == "Sequence") return sequence(spec, origin);
  fail_input(origin, "normalizer type " + type + " is not supported");
}

}  // namespace mp
