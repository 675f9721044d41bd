// Decoding a GGUF tensor, or only some of its rows, straight to the compute type. The runtime
// decodes a decoder layer each time it runs, the token embedding's rows for each lookup and the LM
// head a chunk of rows at a time (lib/runtime/model_ends.h), so none of them is held whole in f32.
#pragma once
#include <ATen/ATen.h>

#include "formats/gguf_file.h"

namespace mp {

// The tensor in `dtype` (f32 or bf16), shaped outermost first. bf16 is decoded a few rows at a time
// through f32 (the same values as GgufFile::tensor() cast to bf16), never through an f32 copy of the
// whole tensor.
at::Tensor gguf_decode(const GgufFile& file, const GgufTensorInfo& info, at::ScalarType dtype);

// Only the ggml rows `rows` (int64 indices into the product of the outer dimensions) in `dtype`:
// [rows.numel(), innermost dimension], row k what GgufFile::tensor() has at flat row rows[k].
at::Tensor gguf_decode_rows(const GgufFile& file, const GgufTensorInfo& info, const at::Tensor& rows,
                            at::ScalarType dtype);

}  // namespace mp
