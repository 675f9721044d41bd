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

// Whether dequantize_row and quantize_row handle `type` (docs/gguf.md lists the types).
bool has_codec(GgmlType type);

void dequantize_row(GgmlType type, const uint8_t* bytes, float* out, int64_t n);
void quantize_row(GgmlType type, const float* in, uint8_t* out, int64_t n, const float* importance = nullptr);

// Packs levels chosen elsewhere (a GPTQ or AWQ checkpoint's codes, kept as they are) into q4_0, q4_1,
// q5_0 or q5_1 blocks: per block of 32 values its scale d[b], its minimum m[b] (read by the _1
// types only) and 32 levels (0..15, or 0..31 for q5). Values decode as d·(level − 8 or 16) for the
// _0 types and d·level + m for the _1 types. d and m are stored as fp16, rounded to nearest.
void pack_row_levels(GgmlType type, const float* d, const float* m, const uint8_t* levels, uint8_t* out, int64_t n);

}  // namespace mp
