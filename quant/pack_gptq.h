// HF GPTQ checkpoint tensors of one linear layer (AutoGPTQ / GPTQModel layout):
//   qweight int32 [in·bits/32, out]     codes packed along the input dimension
//   qzeros  int32 [groups, out·bits/32] zero points packed along the output dimension
//   scales  fp16  [groups, out]
//   g_idx   int32 [in]                  the group of every input column
// checkpoint_format "gptq" stores zero − 1 (so a zero point of 0 cannot be stored); "gptq_v2"
// stores the zero point as is.
#pragma once
#include "quant/quantized_linear.h"

namespace mp {

enum class GptqCheckpointFormat { gptq, gptq_v2 };

struct GptqTensors {
  at::Tensor qweight, qzeros, scales, g_idx;
};

// Bits 2, 3, 4 or 8; in and out must fill whole words (multiples of 32 for 3 bits).
GptqTensors pack_gptq(const QuantizedLinear& layer, GptqCheckpointFormat format);
// Bad input unless the four tensors agree with each other and with `bits` (shapes, dtypes, every
// g_idx naming a stored group); `where` names the module in the message. unpack_gptq assumes it.
void check_gptq_tensors(const GptqTensors& tensors, int bits, const std::string& where);
QuantizedLinear unpack_gptq(const GptqTensors& tensors, int bits, int64_t group_size, bool sym,
                            GptqCheckpointFormat format);

}  // namespace mp
