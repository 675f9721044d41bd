#include "formats/dtype.h"

#include <optional>

#include "lib/base/error.h"

namespace mp {

namespace {
struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t bytes;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::BOOL, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
    {DType::U16, "U16", 2},   {DType::I16, "I16", 2},   {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::U32, "U32", 4},   {DType::I32, "I32", 4},
    {DType::F32, "F32", 4},   {DType::U64, "U64", 8},   {DType::I64, "I64", 8},
    {DType::F64, "F64", 8},
};
}  // namespace

size_t dtype_bytes(DType dtype) { return kDTypes[static_cast<int>(dtype)].bytes; }
const char* dtype_name(DType dtype) { return kDTypes[static_cast<int>(dtype)].name; }

bool parse_dtype(const std::string& name, DType* out) {
  for (const auto& info : kDTypes)
    if (name == info.name) {
      *out = info.dtype;
      return true;
    }
  return false;
}

namespace {
// The LibTorch type of `dtype`; none for the unsigned types LibTorch 1.13 lacks.
std::optional<at::ScalarType> scalar_type_of(DType dtype) {
  switch (dtype) {
    case DType::BOOL: return at::kBool;
    case DType::U8: return at::kByte;
    case DType::I8: return at::kChar;
    case DType::I16: return at::kShort;
    case DType::F16: return at::kHalf;
    case DType::BF16: return at::kBFloat16;
    case DType::I32: return at::kInt;
    case DType::F32: return at::kFloat;
    case DType::I64: return at::kLong;
    case DType::F64: return at::kDouble;
    default: return std::nullopt;
  }
}
}  // namespace

bool has_scalar_type(DType dtype) { return scalar_type_of(dtype).has_value(); }

at::ScalarType to_scalar_type(DType dtype) {
  if (const auto type = scalar_type_of(dtype)) return *type;
  fail_runtime(std::string("LibTorch has no tensor type for ") + dtype_name(dtype));
}

DType from_scalar_type(at::ScalarType type) {
  switch (type) {
    case at::kBool: return DType::BOOL;
    case at::kByte: return DType::U8;
    case at::kChar: return DType::I8;
    case at::kShort: return DType::I16;
    case at::kHalf: return DType::F16;
    case at::kBFloat16: return DType::BF16;
    case at::kInt: return DType::I32;
    case at::kFloat: return DType::F32;
    case at::kLong: return DType::I64;
    case at::kDouble: return DType::F64;
    default: fail_runtime(std::string("no file type for tensor type ") + c10::toString(type));
  }
}

}  // namespace mp
