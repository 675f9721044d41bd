// Reading tokenizer.json fields: a missing or mistyped field is a bad-input error naming the file.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace mp {

// spec[key] as T, or fallback when absent or null.
template <typename T>
T hf_field(const nlohmann::json& spec, const char* key, const T& fallback, const std::string& origin);
// spec[key] as T; absent is an error.
template <typename T>
T hf_required(const nlohmann::json& spec, const char* key, const std::string& origin);
// A {"String": s} or {"Regex": r} pattern: the text and whether it is a regex.
struct HfPattern {
  std::string text;
  bool regex = false;
};
HfPattern hf_pattern(const nlohmann::json& spec, const std::string& origin);
// The "type" of a component, for dispatch and messages.
std::string hf_type(const nlohmann::json& spec, const std::string& origin);

}  // namespace mp
