#include "formats/gguf_value.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "lib/base/error.h"

namespace mp {

namespace {

struct TypeInfo {
  const char* name;
  uint64_t bytes;
};
constexpr TypeInfo kTypes[] = {
    {"UINT8", 1}, {"INT8", 1},   {"UINT16", 2}, {"INT16", 2},  {"UINT32", 4}, {"INT32", 4},   {"FLOAT32", 4},
    {"BOOL", 1},  {"STRING", 0}, {"ARRAY", 0},  {"UINT64", 8}, {"INT64", 8},  {"FLOAT64", 8},
};

// Fails unless `type` is an integer type of the given signedness whose range holds `value`.
void check_integer(GgufType type, bool is_signed, __int128 value) {
  const bool signed_type =
      type == GgufType::INT8 || type == GgufType::INT16 || type == GgufType::INT32 || type == GgufType::INT64;
  const bool unsigned_type = type == GgufType::UINT8 || type == GgufType::UINT16 ||
                             type == GgufType::UINT32 || type == GgufType::UINT64;
  if (is_signed ? !signed_type : !unsigned_type)
    fail_runtime(std::string(gguf_type_name(type)) + " is not a" + (is_signed ? " signed" : "n unsigned") +
                 " integer type");
  const int bits = static_cast<int>(8 * gguf_scalar_bytes(type));
  const __int128 lowest = is_signed ? -(static_cast<__int128>(1) << (bits - 1)) : 0;
  const __int128 highest = (static_cast<__int128>(1) << (is_signed ? bits - 1 : bits)) - 1;
  if (value < lowest || value > highest)
    fail_runtime((value < 0 ? std::to_string(static_cast<long long>(value))
                            : std::to_string(static_cast<unsigned long long>(value))) +
                 " does not fit " + gguf_type_name(type));
}

}  // namespace

bool is_gguf_type(uint32_t id) { return id < sizeof(kTypes) / sizeof(kTypes[0]); }

const char* gguf_type_name(GgufType type) {
  const auto id = static_cast<uint32_t>(type);
  return is_gguf_type(id) ? kTypes[id].name : "unknown";
}

bool is_number_type(GgufType type) {
  return is_gguf_type(static_cast<uint32_t>(type)) && gguf_scalar_bytes(type) > 0 && type != GgufType::BOOL;
}

uint64_t gguf_scalar_bytes(GgufType type) { return kTypes[static_cast<uint32_t>(type)].bytes; }

GgufValue GgufValue::unsigned_int(GgufType type, uint64_t value) {
  check_integer(type, false, value);
  return GgufValue(type, value);
}

GgufValue GgufValue::signed_int(GgufType type, int64_t value) {
  check_integer(type, true, value);
  return GgufValue(type, value);
}

GgufValue GgufValue::floating(GgufType type, double value) {
  if (type != GgufType::FLOAT32 && type != GgufType::FLOAT64)
    fail_runtime(std::string("floating: ") + gguf_type_name(type) + " is not a float type");
  // A FLOAT32 holds exactly what the file will hold.
  return GgufValue(type, type == GgufType::FLOAT32 ? static_cast<double>(static_cast<float>(value)) : value);
}

GgufValue GgufValue::boolean(bool value) { return GgufValue(GgufType::BOOL, value); }

GgufValue GgufValue::string(std::string value) { return GgufValue(GgufType::STRING, std::move(value)); }

GgufValue GgufValue::array(GgufType element_type, std::vector<GgufValue> elements) {
  if (!is_gguf_type(static_cast<uint32_t>(element_type))) fail_runtime("array of an unknown GGUF type");
  for (const auto& e : elements)
    if (e.type() != element_type)
      fail_runtime(std::string("array of ") + gguf_type_name(element_type) + " given a " +
                   gguf_type_name(e.type()));
  return GgufValue(GgufType::ARRAY, std::move(elements), element_type);
}

template <class T>
const T& GgufValue::get(const char* wanted) const {
  if (!std::holds_alternative<T>(data_))
    fail_runtime(std::string("GGUF value is ") + gguf_type_name(type_) + ", not " + wanted);
  return std::get<T>(data_);
}

uint64_t GgufValue::as_uint() const { return get<uint64_t>("an unsigned integer"); }
int64_t GgufValue::as_int() const { return get<int64_t>("a signed integer"); }
double GgufValue::as_float() const { return get<double>("a float"); }
bool GgufValue::as_bool() const { return get<bool>("BOOL"); }
const std::string& GgufValue::as_string() const { return get<std::string>("STRING"); }
const std::vector<GgufValue>& GgufValue::as_array() const { return get<std::vector<GgufValue>>("ARRAY"); }

std::string GgufValue::to_text(size_t max_elements) const {
  std::ostringstream out;
  switch (type_) {
    case GgufType::BOOL:
      out << (as_bool() ? "true" : "false");
      break;
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
