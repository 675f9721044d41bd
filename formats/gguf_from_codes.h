// GGUF q4_0 / q4_1 tensors made from a 4-bit GPTQ or AWQ layer's own codes instead of from its
// dequantized weights. Both hold the checkpoint's affine grid w = s·(q − z) when every 32-value
// block lies in one group: q4_0 is d·(q − 8), so a symmetric layer (z = 8) maps with d = s; q4_1 is
// d·q + m, so any zero point maps with d = s, m = −s·z. ggml stores d and m as fp16: s already is
// one, but s·z needs up to 15 significant bits, so q4_1's m can round; the copy measures the
// resulting error instead of assuming it away. A layer GPTQ solved on a ggml block grid
// (formats/gguf_block_grid.h) is kept when the tensor has that type.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/gguf_types.h"
#include "quant/quantized_linear.h"

namespace mp {

struct GgufCodeCopy {
  std::vector<uint8_t> bytes;  // the tensor's GGUF data; empty when the codes cannot be kept
  std::string why_not;         // why they cannot (set when bytes is empty)
  double max_error = 0;        // max |GGUF value − checkpoint value| over the tensor; 0: lossless
};

GgufCodeCopy copy_codes_to_gguf(const QuantizedLinear& layer, GgmlType type);

}  // namespace mp
