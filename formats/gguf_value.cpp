#include "formats/gguf_value.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "lib/error.h"

namespace mp {

namespace {

struct TypeInfo {
  const char* name;
  uint64_t bytes;
};
constexpr TypeInfo kTypes[] = {
    {"UINT8", 1},  {"INT8", 1},   {"UINT16", 2}, {"INT16", 2},  {"UINT32", 4}, {"INT32", 4}, {"FLOAT32", 4},
    {"BOOL", 1},   {"STRING", 0}, {"ARRAY", 0},  {"UINT64", 8}, {"INT64", 8},  {"FLOAT64", 8},
};

[[noreturn]] void wrong_type(GgufType have, const char* want) {
  fail_runtime(std::string("GGUF value is ") + gguf_type_name(have) + ", not " + want);
}

}  // namespace

bool is_gguf_type(uint32_t id) { return id < sizeof(kTypes) / sizeof(kTypes[0]); }

const char* gguf_type_name(GgufType type) {
  const auto id = static_cast<uint32_t>(type);
  return is_gguf_type(id) ? kTypes[id].name : "unknown";
}

uint64_t gguf_scalar_bytes(GgufType type) { return kTypes[static_cast<uint32_t>(type)].bytes; }

GgufValue GgufValue::unsigned_int(GgufType type, uint64_t value) {
  if (type != GgufType::UINT8 && type != GgufType::UINT16 && type != GgufType::UINT32 && type != GgufType::UINT64)
    fail_runtime(std::string("unsigned_int: ") + gguf_type_name(type) + " is not an unsigned integer type");
  const uint64_t bits = 8 * gguf_scalar_bytes(type);
  if (bits < 64 && value >> bits)
    fail_runtime(std::to_string(value) + " does not fit " + gguf_type_name(type));
  GgufValue v;
  v.type_ = type;
  v.data_ = value;
  return v;
}

GgufValue GgufValue::signed_int(GgufType type, int64_t value) {
  if (type != GgufType::INT8 && type != GgufType::INT16 && type != GgufType::INT32 && type != GgufType::INT64)
    fail_runtime(std::string("signed_int: ") + gguf_type_name(type) + " is not a signed integer type");
  const uint64_t bits = 8 * gguf_scalar_bytes(type);
  if (bits < 64 && (value < -(int64_t{1} << (bits - 1)) || value >= (int64_t{1} << (bits - 1))))
    fail_runtime(std::to_string(value) + " does not fit " + gguf_type_name(type));
  GgufValue v;
  v.type_ = type;
  v.data_ = value;
  return v;
}

GgufValue GgufValue::floating(GgufType type, double value) {
  if (type != GgufType::FLOAT32 && type != GgufType::FLOAT64)
    fail_runtime(std::string("floating: ") + gguf_type_name(type) + " is not a float type");
  GgufValue v;
  v.type_ = type;
  // A FLOAT32 holds exactly what the file will hold.
  v.data_ = type == GgufType::FLOAT32 ? static_cast<double>(static_cast<float>(value)) : value;
  return v;
}

GgufValue GgufValue::boolean(bool value) {
  GgufValue v;
  v.type_ = GgufType::BOOL;
  v.data_ = value;
  return v;
}

GgufValue GgufValue::string(std::string value) {
  GgufValue v;
  v.type_ = GgufType::STRING;
  v.data_ = std::move(value);
  return v;
}

GgufValue GgufValue::array(GgufType element_type, std::vector<GgufValue> elements) {
  if (!is_gguf_type(static_cast<uint32_t>(element_type))) fail_runtime("array of an unknown GGUF type");
  for (const auto& e : elements)
    if (e.type() != element_type)
      fail_runtime(std::string("array of ") + gguf_type_name(element_type) + " given a " + gguf_type_name(e.type()));
  GgufValue v;
  v.type_ = GgufType::ARRAY;
  v.element_type_ = element_type;
  v.data_ = std::move(elements);
  return v;
}

uint64_t GgufValue::as_uint() const {
  if (!std::holds_alternative<uint64_t>(data_)) wrong_type(type_, "an unsigned integer");
  return std::get<uint64_t>(data_);
}

int64_t GgufValue::as_int() const {
  if (!std::holds_alternative<int64_t>(data_)) wrong_type(type_, "a signed integer");
  return std::get<int64_t>(data_);
}

double GgufValue::as_float() const {
  if (!std::holds_alternative<double>(data_)) wrong_type(type_, "a float");
  return std::get<double>(data_);
}

bool GgufValue::as_bool() const {
  if (!std::holds_alternative<bool>(data_)) wrong_type(type_, "BOOL");
  return std::get<bool>(data_);
}

const std::string& GgufValue::as_string() const {
  if (!std::holds_alternative<std::string>(data_)) wrong_type(type_, "STRING");
  return std::get<std::string>(data_);
}

const std::vector<GgufValue>& GgufValue::as_array() const {
  if (!std::holds_alternative<std::vector<GgufValue>>(data_)) wrong_type(type_, "ARRAY");
  return std::get<std::vector<GgufValue>>(data_);
}

std::string GgufValue::to_text(size_t max_elements) const {
  std::ostringstream out;
  switch (type_) {
    case GgufType::BOOL: out << (as_bool() ? "true" : "false"); break;
    case GgufType::STRING:
      // Listings are one line per key: control characters are shown escaped.
      for (const char c : as_string()) {
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) {
          out << c;
        } else {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
          out << escaped;
        }
      }
      break;
    case GgufType::FLOAT32:
    case GgufType::FLOAT64:
      out.precision(type_ == GgufType::FLOAT32 ? std::numeric_limits<float>::max_digits10
                                               : std::numeric_limits<double>::max_digits10);
      out << as_float();
      break;
    case GgufType::ARRAY: {
      const auto& elements = as_array();
      out << "[";
      for (size_t i = 0; i < elements.size() && i < max_elements; ++i) {
        out << (i ? ", " : "");
        const bool quote = element_type_ == GgufType::STRING;
        out << (quote ? "\"" : "") << elements[i].to_text(max_elements) << (quote ? "\"" : "");
      }
      if (elements.size() > max_elements) out << ", ...";
      out << "] (" << elements.size() << " x " << gguf_type_name(element_type_) << ")";
      break;
    }
    default:
      if (std::holds_alternative<uint64_t>(data_))
        out << as_uint();
      else
        out << as_int();
  }
  return out.str();
}

bool GgufValue::operator==(const GgufValue& other) const {
  if (type_ != other.type_ || element_type_ != other.element_type_) return false;
  // Compare floats by value, except that NaN equals NaN: a round trip must keep it.
  if (std::holds_alternative<double>(data_)) {
    const double a = std::get<double>(data_), b = std::get<double>(other.data_);
    return a == b || (std::isnan(a) && std::isnan(b));
  }
  return data_ == other.data_;
}

}  // namespace mp
