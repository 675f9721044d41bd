// AutoAWQ "GEMM" checkpoint tensors of one linear layer (4 bits):
//   qweight int32 [in, out/8]      codes packed along the output dimension
//   qzeros  int32 [groups, out/8]  zero points (as is, no −1), packed the same way
//   scales  fp16  [groups, out]
// Within a word, nibble i holds output column kAwqPackOrder[i] of its run of 8 columns.
#pragma once
#include <array>

#include "quant/quantized_linear.h"

namespace mp {

inline constexpr std::array<int64_t, 8> kAwqPackOrder = {0, 2, 4, 6, 1, 3, 5, 7};

struct AwqTensors {
  at::Tensor qweight, qzeros, scales;
};

// The layer must be 4-bit with groups in column order and out a multiple of 8.
AwqTensors pack_awq(const QuantizedLinear& layer);
QuantizedLinear unpack_awq(const AwqTensors& tensors, int64_t group_size);

}  // namespace mp
