// Row codecs for GGUF tensor types: bytes <-> floats, bit-exact with ggml.
//
// dequantize_row reproduces ggml's to_float exactly. quantize_row reproduces ggml_quantize_chunk:
// without an importance matrix it is ggml's reference quantizer (quantize_row_<type>_ref), with one
// it is the importance-weighted search. `n` is the length of one tensor row and a multiple of the
// type's block size; `importance` (nullable) holds one weight per column of that row. Some types
// (q8_0, f16, bf16, f32) ignore the importance matrix, as ggml does.
#pragma once
#include <cstdint>

#include "formats/gguf_types.h"

namespace mp {

void dequantize_row(GgmlType type, const uint8_t* bytes, float* out, int64_t n);
void quantize_row(GgmlType type, const float* in, uint8_t* out, int64_t n, const float* importance = nullptr);

}  // namespace mp
