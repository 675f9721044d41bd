// Element types as files spell them, and their mapping to LibTorch.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace mp {

enum class DType : uint8_t { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64 };

size_t dtype_bytes(DType dtype);
const char* dtype_name(DType dtype);  // safetensors spelling: "F32", "BF16", ...
bool parse_dtype(const std::string& name, DType* out);
bool has_scalar_type(DType dtype);            // false for the types LibTorch lacks: U16, U32, U64
at::ScalarType to_scalar_type(DType dtype);  // fails for those
DType from_scalar_type(at::ScalarType type);

}  // namespace mp
