// A GGUF metadata value: one of the 13 value types of the format, kept with its declared type so a
// file can be compared key by key and written back unchanged. Arrays hold values of one element type,
// possibly arrays themselves.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "lib/base/error.h"

namespace mp {

// clang-format off
enum class GgufType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
// clang-format on

const char* gguf_type_name(GgufType type);  // "UINT32", "FLOAT32", "ARRAY", ...
bool is_gguf_type(uint32_t id);
// Bytes of one scalar value of a fixed-size type; 0 for STRING and ARRAY.
uint64_t gguf_scalar_bytes(GgufType type);

// The numeric types (integers and floats, not BOOL): visit_number_type calls visit(T{}) with the C++
// type that stores one, so readers and writers need no switch of their own.
bool is_number_type(GgufType type);
template <class Visit>
decltype(auto) visit_number_type(GgufType type, Visit&& visit);

class GgufValue {
 public:
  // The value must fit the type (checked): e.g. unsigned_int(GgufType::UINT8, 300) fails.
  static GgufValue unsigned_int(GgufType type, uint64_t value);  // UINT8/16/32/64
  static GgufValue signed_int(GgufType type, int64_t value);     // INT8/16/32/64
  static GgufValue floating(GgufType type, double value);        // FLOAT32/64
  static GgufValue boolean(bool value);
  static GgufValue string(std::string value);
  // Every element must have type `element_type`.
  static GgufValue array(GgufType element_type, std::vector<GgufValue> elements);
  // A numeric value from its C++ representation (T as visit_number_type gives it).
  template <class T>
  static GgufValue number(GgufType type, T value);
  // Shorthands for the common types.
  static GgufValue uint32(uint32_t value) { return unsigned_int(GgufType::UINT32, value); }
  static GgufValue int32(int32_t value) { return signed_int(GgufType::INT32, value); }
  static GgufValue float32(float value) { return floating(GgufType::FLOAT32, value); }

  GgufType type() const { return type_; }
  GgufType element_type() const { return element_type_; }  // ARRAY only

  // Typed access; each fails unless the value has a matching type.
  uint64_t as_uint() const;  // any UINT type
  int64_t as_int() const;    // any INT type
  double as_float() const;   // FLOAT32 or FLOAT64
  bool as_bool() const;
  const std::string& as_string() const;
  const std::vector<GgufValue>& as_array() const;
  // A numeric value in its C++ representation (T as visit_number_type gives it).
  template <class T>
  T number_as() const;

  // For listings: arrays show their first `max_elements` elements and their length.
  std::string to_text(size_t max_elements = 8) const;
  bool operator==(const GgufValue& other) const;
  bool operator!=(const GgufValue& other) const { return !(*this == other); }

 private:
  using Data = std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<GgufValue>>;
  GgufValue(GgufType type, Data data, GgufType element_type = GgufType::UINT8)
      : type_(type), element_type_(element_type), data_(std::move(data)) {}

  template <class T>
  const T& get(const char* wanted) const;

  GgufType type_;
  GgufType element_type_;
  Data data_;
};

template <class Visit>
decltype(auto) visit_number_type(GgufType type, Visit&& visit) {
  switch (type) {
    case GgufType::UINT8:
      return visit(uint8_t{});
    case GgufType::INT8:
      return visit(int8_t{});
    case GgufType::UINT16:
      return visit(uint16_t{});
    case GgufType::INT16:
      return visit(int16_t{});
    case GgufType::UINT32:
      return visit(uint32_t{});
    case GgufType::INT32:
      return visit(int32_t{});
    case GgufType::FLOAT32:
      return visit(float{});
    case GgufType::UINT64:
      return visit(uint64_t{});
    case GgufType::INT64:
      return visit(int64_t{});
    case GgufType::FLOAT64:
      return visit(double{});
    default:
      fail_runtime(std::string(gguf_type_name(type)) + " is not a numeric GGUF type");
  }
}

template <class T>
GgufValue GgufValue::number(GgufType type, T value) {
  if constexpr (std::is_floating_point_v<T>)
    return floating(type, value);
  else if constexpr (std::is_signed_v<T>)
    return signed_int(type, value);
  else
    return unsigned_int(type, value);
}

template <class T>
T GgufValue::number_as() const {
  if constexpr (std::is_floating_point_v<T>)
    return static_cast<T>(as_float());
  else if constexpr (std::is_signed_v<T>)
    return static_cast<T>(as_int());
  else
    return static_cast<T>(as_uint());
}

}  // namespace mp
