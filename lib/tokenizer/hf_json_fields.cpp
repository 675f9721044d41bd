#include "lib/tokenizer/hf_json_fields.h"

#include "lib/base/error.h"

namespace mp {

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
