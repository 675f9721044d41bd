// Reading tokenizer.json fields: a missing or mistyped field is a bad-input error naming the file.
#pragma once
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/base/error.h"
#include "lib/base/json_integer.h"

namespace mp {

// spec[key] as T, or fallback when absent or null.
template <typename T>
T hf_field(const nlohmann::json& spec, const char* key, const T& fallback, const std::string& origin) {
  if (!spec.is_object() || !spec.contains(key) || spec[key].is_null()) return fallback;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    if (!json_integer_fits<T>(spec[key]))
      fail_input(origin, std::string("field \"") + key + "\" must be " + json_integer_range<T>() + ", got " +
                             spec[key].dump().substr(0, 80));
  try {
    return spec[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    fail_input(origin, std::string("field \"") + key + "\" has the wrong type: " + spec[key].dump().substr(0, 80));
  }
}

// spec[key] as T; absent is an error.
template <typename T>
T hf_required(const nlohmann::json& spec, const char* key, const std::string& origin) {
  if (!spec.is_object() || !spec.contains(key) || spec[key].is_null())
    fail_input(origin, std::string("missing field \"") + key + "\" in " + spec.dump().substr(0, 80));
  return hf_field<T>(spec, key, T(), origin);
}

// A {"String": s} or {"Regex": r} pattern: the text and whether it is a regex.
struct HfPattern {
  std::string text;
  bool regex = false;
};
HfPattern hf_pattern(const nlohmann::json& spec, const std::string& origin);
// The parts of a "Sequence" component (the list spec[key]) built by make(part, origin); parts that
// make as nothing (null) are left out.
template <typename Make>
auto hf_sequence(const nlohmann::json& spec, const char* key, const Make& make, const std::string& origin) {
  std::vector<decltype(make(spec, origin))> parts;
  for (const auto& part : hf_field<nlohmann::json>(spec, key, nlohmann::json::array(), origin))
    if (auto p = make(part, origin)) parts.push_back(std::move(p));
  return parts;
}

// The "type" of a component, for dispatch and messages.
std::string hf_type(const nlohmann::json& spec, const std::string& origin);

}  // namespace mp
