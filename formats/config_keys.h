// Typed reads of config.json keys that fail with one line naming the file and the key: shared by
// the common keys (formats/hf_config.cpp) and each architecture's own (lib/arch/).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "lib/base/error.h"

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
    // nlohmann would cast 1e30 to an integer unchecked (undefined behaviour) and 2^32 + 2 to an int
    // as 2: a count must be written as an integer that fits its type.
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      if (!fits_integer<T>(j_[key]))
        fail_input(where_, "key \"" + section_ + key + "\" has the wrong type: must be an integer in [" +
                               std::to_string(std::numeric_limits<T>::min()) + ", " +
                               std::to_string(std::numeric_limits<T>::max()) + "], got " + j_[key].dump());
    try {
      return j_[key].get<T>();
    } catch (const nlohmann::json::exception&) {
      fail_input(where_, "key \"" + section_ + key + "\" has the wrong type: " + j_[key].dump());
    }
  }

  template <typename T>
  T optional(const char* key, T fallback) const {
    return has(key) ? required<T>(key) : fallback;
  }

 private:
  template <typename T>
  static bool fits_integer(const nlohmann::json& v) {
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    if (!v.is_number_integer()) return false;
    const int64_t i = v.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) return i >= 0 && static_cast<uint64_t>(i) <= std::numeric_limits<T>::max();
    else return i >= std::numeric_limits<T>::min() && i <= std::numeric_limits<T>::max();
  }

  const nlohmann::json& j_;
  std::string where_;
  std::string section_;
};

}  // namespace mp
