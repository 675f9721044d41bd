// Whether a JSON value is an integer that fits T. nlohmann's get<T>() casts without checking: a
// float past T's range (1e300) is undefined behaviour and 2^32 + 2 becomes the int 2, so every
// integer read from a file is checked here first.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

namespace mp {

template <typename T>
bool json_integer_fits(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
  if (!v.is_number_integer()) return false;
  const int64_t i = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<T>) return i >= 0 && static_cast<uint64_t>(i) <= std::numeric_limits<T>::max();
  else return i >= std::numeric_limits<T>::min() && i <= std::numeric_limits<T>::max();
}

// What a message says the value must be, e.g. "an integer in [-2147483648, 2147483647]".
template <typename T>
std::string json_integer_range() {
  return "an integer in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
         std::to_string(std::numeric_limits<T>::max()) + "]";
}

}  // namespace mp
