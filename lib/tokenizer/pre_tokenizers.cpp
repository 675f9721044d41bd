#include "lib/tokenizer/pre_tokenizers.h"

#include <memory>

#include "lib/base/error.h"
#include "lib/tokenizer/byte_level.h"
#include "lib/tokenizer/hf_json_fields.h"
#include "lib/tokenizer/unicode_regex.h"

namespace mp {

namespace {

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

Behavior parse_behavior(const std::string& name, const std::string& origin) {
  if (name == "Removed") return Behavior::removed;
  if (name == "Isolated") return Behavior::isolated;
  if (name == "MergedWithPrevious") return Behavior::merged_with_previous;
  if (name == "MergedWithNext") return Behavior::merged_with_next;
  if (name == "Contiguous") return Behavior::contiguous;
  fail_input(origin, "unknown Split behavior " + name);
}

struct Span {
  size_t begin, end;
  bool is_match;
};

// The text cut into alternating matched and unmatched spans, as tokenizers' Pattern::find_matches.
std::vector<Span> spans(const std::string& text, const UnicodeRegex& regex, bool invert) {
  std::vector<Span> out;
  size_t at = 0;
  for (const auto& [begin, end] : regex.find_all(text)) {
    if (begin > at) out.push_back({at, begin, invert});
    out.push_back({begin, end, !invert});
    at = end;
  }
  if (at < text.size()) out.push_back({at, text.size(), invert});
  return out;
}

// Tokenizers' NormalizedString::split: where the matched spans go.
std::vector<Span> apply_behavior(std::vector<Span> in, Behavior behavior) {
  std::vector<Span> out;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::isolated:
      return in;
    case Behavior::removed:
      for (const Span& s : in)
        if (!s.is_match) out.push_back(s);
      return out;
    case Behavior::merged_with_previous:
      for (const Span& s : in) {
        if (s.is_match && !previous_match && !out.empty()) out.back().end = s.end;
        else out.push_back(s);
        previous_match = s.is_match;
      }
      return out;
    case Behavior::merged_with_next:
      for (auto it = in.rbegin(); it != in.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) out.back().begin = it->begin;
        else out.push_back(*it);
        previous_match = it->is_match;
      }
      return {out.rbegin(), out.rend()};
    case Behavior::contiguous:
      for (const Span& s : in) {
        if (s.is_match == previous_match && !out.empty()) out.back().end = s.end;
        else out.push_back(s);
        previous_match = s.is_match;
      }
      return out;
  }
  return out;
}

// Replaces each pre-token by the non-empty parts split_one gives for it.
template <typename SplitOne>
void split_each(std::vector<PreToken>& tokens, const SplitOne& split_one) {
  std::vector<PreToken> out;
  out.reserve(tokens.size() * 2);
  for (PreToken& t : tokens) split_one(t, out);
  tokens.swap(out);
}

PreTokenizer split_by(std::shared_ptr<const UnicodeRegex> regex, Behavior behavior, bool invert) {
  return [regex, behavior, invert](std::vector<PreToken>& tokens) {
    split_each(tokens, [&](const PreToken& t, std::vector<PreToken>& out) {
      for (const Span& s : apply_behavior(spans(t.text, *regex, invert), behavior))
        if (s.end > s.begin) out.push_back({t.text.substr(s.begin, s.end - s.begin), t.at_text_start && s.begin == 0});
    });
  };
}

PreTokenizer split_by(const std::string& pattern, bool literal, Behavior behavior, bool invert, const std::string& origin) {
  return split_by(std::make_shared<const UnicodeRegex>(pattern, literal, origin), behavior, invert);
}

// GPT-2's pre-tokenization regex, which ByteLevel applies when use_regex is set.
const char* gpt2_pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

PreTokenizer byte_level(const nlohmann::json& spec, const std::string& origin) {
  const bool add_prefix_space = hf_field<bool>(spec, "add_prefix_space", true, origin);
  PreTokenizer regex_split;
  if (hf_field<bool>(spec, "use_regex", true, origin)) regex_split = split_by(gpt2_pattern, false, Behavior::isolated, false, origin);
  return [add_prefix_space, regex_split](std::vector<PreToken>& tokens) {
    if (add_prefix_space)
      for (PreToken& t : tokens)
        if (t.text.empty() || t.text[0] != ' ') t.text.insert(0, 1, ' ');
    if (regex_split) regex_split(tokens);
    for (PreToken& t : tokens) t.text = byte_level_encode(t.text);
  };
}

PreTokenizer metaspace(const nlohmann::json& spec, const std::string& origin) {
  const std::string replacement = hf_field<std::string>(spec, "replacement", "\xE2\x96\x81", origin);
  // Older files say add_prefix_space instead of prepend_scheme.
  const bool legacy_prefix = hf_field<bool>(spec, "add_prefix_space", true, origin);
  const std::string scheme = hf_field<std::string>(spec, "prepend_scheme", legacy_prefix ? "always" : "never", origin);
  if (scheme != "always" && scheme != "first" && scheme != "never") fail_input(origin, "unknown Metaspace prepend_scheme " + scheme);
  const bool split = hf_field<bool>(spec, "split", true, origin);
  auto space = std::make_shared<const UnicodeRegex>(" ", true, origin);
  PreTokenizer split_words = split ? split_by(std::make_shared<const UnicodeRegex>(replacement, true, origin),
                                              Behavior::merged_with_next, false)
                                   : nullptr;
  return [=](std::vector<PreToken>& tokens) {
    for (PreToken& t : tokens) {
      std::string replaced = space->replace_all(t.text, replacement);
      const bool prepend = scheme == "always" || (scheme == "first" && t.at_text_start);
      if (prepend && replaced.compare(0, replacement.size(), replacement) != 0) replaced.insert(0, replacement);
      t.text = std::move(replaced);
    }
    if (split_words) split_words(tokens);
  };
}

PreTokenizer sequence(const nlohmann::json& spec, const std::string& origin) {
  const std::vector<PreTokenizer> steps = hf_sequence(spec, "pretokenizers", make_pre_tokenizer, origin);
  return [steps](std::vector<PreToken>& tokens) {
    for (const auto& step : steps) step(tokens);
  };
}

}  // namespace

PreTokenizer make_pre_tokenizer(const nlohmann::json& spec, const std::string& origin) {
  if (spec.is_null()) return nullptr;
  const std::string type = hf_type(spec, origin);
  if (type == "Split") {
    const HfPattern pattern = hf_pattern(spec, origin);
    return split_by(pattern.text, !pattern.regex, parse_behavior(hf_required<std::string>(spec, "behavior", origin), origin),
                    hf_field<bool>(spec, "invert", false, origin), origin);
  }
  if (type == "ByteLevel") return byte_level(spec, origin);
  if (type == "Metaspace") return metaspace(spec, origin);
  if (type == "Digits")
    return split_by(R"(\p{N})", false,
                    hf_field<bool>(spec, "individual_digits", false, origin) ? Behavior::isolated : Behavior::contiguous,
                    false, origin);
  // Rust's regex \w and \s are Unicode-aware, as PCRE2's are in UCP mode.
  if (type == "Whitespace") return split_by(R"(\w+|[^\w\s]+)", false, Behavior::removed, true, origin);
  if (type == "WhitespaceSplit") return split_by(R"(\s+)", false, Behavior::removed, false, origin);
  // Rust's is_ascii_punctuation (which takes in ASCII symbols) or a Unicode P* category.
  if (type == "Punctuation")
    return split_by(R"([\p{P}!-/:-@\[-`{-~])", false,
                    parse_behavior(hf_field<std::string>(spec, "behavior", "Isolated", origin), origin), false, origin);
  if (type == "CharDelimiterSplit")
    return split_by(hf_required<std::string>(spec, "delimiter", origin), true, Behavior::removed, false, origin);
  if (type == "Sequence") return sequence(spec, origin);
  fail_input(origin, "pre-tokenizer type " + type + " is not supported");
}

}  // namespace mp
