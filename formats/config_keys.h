// Typed reads of config.json keys that fail with one line naming the file and the key: shared by
// the common keys (formats/hf_config.cpp) and each architecture's own (lib/arch/).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <type_traits>

#include "lib/base/error.h"

namespace mp {

class ConfigKeys {
 public:
  ConfigKeys(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}
  const nlohmann::json& json() const { return j_; }
  const std::string& where() const { return where_; }
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  template <typename T>
  T required(const char* key) const {
    if (!has(key)) fail_input(where_, std::string("missing required key \"") + key + "\"");
    // nlohmann would cast 1e30 to an integer unchecked; a count must be written as an integer.
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      if (!j_[key].is_number_integer())
        fail_input(where_, std::string("key \"") + key + "\" has the wrong type: must be an integer, got " + j_[key].dump());
    try {
      return j_[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      fail_input(where_, std::string("key \"") + key + "\" has the wrong type: " + j_[key].dump());
    }
  }

  template <typename T>
  T optional(const char* key, T fallback) const {
    return has(key) ? required<T>(key) : fallback;
  }

 private:
  const nlohmann::json& j_;
  std::string where_;
};

}  // namespace mp
