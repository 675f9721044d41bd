// Typed reads of config.json keys that fail with one line naming the file and the key: shared by
// the common keys (formats/hf_config.cpp) and each architecture's own (lib/arch/).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <type_traits>

#include "lib/base/error.h"
#include "lib/base/json_integer.h"

namespace mp {

class ConfigKeys {
 public:
  // `section` names the object within the file in messages, as in "quantization_config.bits".
  ConfigKeys(const nlohmann::json& j, std::string where, std::string section = "")
      : j_(j), where_(std::move(where)), section_(section.empty() ? "" : section + ".") {}
  const nlohmann::json& json() const { return j_; }
  const std::string& where() const { return where_; }
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  template <typename T>
  T required(const char* key) const {
    if (!has(key)) fail_input(where_, "missing required key \"" + section_ + key + "\"");
    // A count must be written as an integer that fits its type (lib/base/json_integer.h says why).
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      if (!json_integer_fits<T>(j_[key]))
        fail_input(where_, "key \"" + section_ + key + "\" has the wrong type: must be " + json_integer_range<T>() +
                               ", got " + j_[key].dump().substr(0, 80));
    try {
      return j_[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      fail_input(where_, "key \"" + section_ + key + "\" has the wrong type: " + j_[key].dump().substr(0, 80));
    }
  }

  template <typename T>
  T optional(const char* key, T fallback) const {
    return has(key) ? required<T>(key) : fallback;
  }

 private:
  const nlohmann::json& j_;
  std::string where_;
  std::string section_;
};

}  // namespace mp
