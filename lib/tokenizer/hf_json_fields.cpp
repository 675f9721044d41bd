#include "lib/tokenizer/hf_json_fields.h"

#include "lib/base/error.h"

namespace mp {

template <typename T>
T hf_field(const nlohmann::json& spec, const char* key, const T& fallback, const std::string& origin) {
  if (!spec.is_object() || !spec.contains(key) || spec[key].is_null()) return fallback;
  try {
    return spec[key].get<T>();
  } catch (const nlohmann::json::exception&) {
    fail_input(origin, std::string("field \"") + key + "\" has the wrong type: " + spec[key].dump().substr(0, 80));
  }
}

template <typename T>
T hf_required(const nlohmann::json& spec, const char* key, const std::string& origin) {
  if (!spec.is_object() || !spec.contains(key) || spec[key].is_null())
    fail_input(origin, std::string("missing field \"") + key + "\" in " + spec.dump().substr(0, 80));
  return hf_field<T>(spec, key, T(), origin);
}

template std::string hf_field(const nlohmann::json&, const char*, const std::string&, const std::string&);
template bool hf_field(const nlohmann::json&, const char*, const bool&, const std::string&);
template int64_t hf_field(const nlohmann::json&, const char*, const int64_t&, const std::string&);
template std::string hf_required(const nlohmann::json&, const char*, const std::string&);
template int64_t hf_required(const nlohmann::json&, const char*, const std::string&);

HfPattern hf_pattern(const nlohmann::json& spec, const std::string& origin) {
  const nlohmann::json pattern = spec.is_object() && spec.contains("pattern") ? spec["pattern"] : nlohmann::json();
  if (pattern.is_object() && pattern.contains("String")) return {hf_required<std::string>(pattern, "String", origin), false};
  if (pattern.is_object() && pattern.contains("Regex")) return {hf_required<std::string>(pattern, "Regex", origin), true};
  fail_input(origin, "a pattern must be {\"String\": ...} or {\"Regex\": ...}, not " + pattern.dump().substr(0, 80));
}

std::string hf_type(const nlohmann::json& spec, const std::string& origin) {
  if (!spec.is_object()) fail_input(origin, "expected a component object, not " + spec.dump().substr(0, 80));
  return hf_required<std::string>(spec, "type", origin);
}

}  // namespace mp
