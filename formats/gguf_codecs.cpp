#include "formats/gguf_codecs.h"

#include <cstring>

#include "formats/gguf_block_io.h"
#include "formats/half_float.h"
#include "lib/error.h"

namespace mp {

namespace {

using Decoder = void (*)(const uint8_t*, float*, int64_t);
using Encoder = void (*)(const float*, uint8_t*, int64_t, const float*);

// Plain number types: one value per "block", no importance matrix.
template <uint16_t (*ToBits)(float)>
void encode_halves(const float* in, uint8_t* out, int64_t n, const float*) {
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t bits = ToBits(in[i]);
    std::memcpy(out + 2 * i, &bits, 2);
  }
}

template <float (*FromBits)(uint16_t)>
void decode_halves(const uint8_t* bytes, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t bits;
    std::memcpy(&bits, bytes + 2 * i, 2);
    out[i] = FromBits(bits);
  }
}

void encode_f32(const float* in, uint8_t* out, int64_t n, const float*) {
  std::memcpy(out, in, static_cast<size_t>(n) * sizeof(float));
}

void decode_f32(const uint8_t* bytes, float* out, int64_t n) {
  std::memcpy(out, bytes, static_cast<size_t>(n) * sizeof(float));
}

struct Codec {
  GgmlType type;
  Decoder decode;
  Encoder encode;
};

const Codec kCodecs[] = {
    {GgmlType::F32, decode_f32, encode_f32},
    {GgmlType::F16, decode_halves<fp16_to_fp32>, encode_halves<fp32_to_fp16>},
    {GgmlType::BF16, decode_halves<bf16_to_fp32>, encode_halves<fp32_to_bf16>},
    {GgmlType::Q4_0, gguf_blocks::dequantize_q4_0, gguf_blocks::quantize_q4_0},
    {GgmlType::Q4_1, gguf_blocks::dequantize_q4_1, gguf_blocks::quantize_q4_1},
    {GgmlType::Q5_0, gguf_blocks::dequantize_q5_0, gguf_blocks::quantize_q5_0},
    {GgmlType::Q5_1, gguf_blocks::dequantize_q5_1, gguf_blocks::quantize_q5_1},
    {GgmlType::Q8_0, gguf_blocks::dequantize_q8_0, gguf_blocks::quantize_q8_0},
    {GgmlType::Q2_K, gguf_blocks::dequantize_q2_K, gguf_blocks::quantize_q2_K},
    {GgmlType::Q3_K, gguf_blocks::dequantize_q3_K, gguf_blocks::quantize_q3_K},
    {GgmlType::Q4_K, gguf_blocks::dequantize_q4_K, gguf_blocks::quantize_q4_K},
    {GgmlType::Q5_K, gguf_blocks::dequantize_q5_K, gguf_blocks::quantize_q5_K},
    {GgmlType::Q6_K, gguf_blocks::dequantize_q6_K, gguf_blocks::quantize_q6_K},
    {GgmlType::IQ4_NL, gguf_blocks::dequantize_iq4_nl, gguf_blocks::quantize_iq4_nl},
    {GgmlType::IQ4_XS, gguf_blocks::dequantize_iq4_xs, gguf_blocks::quantize_iq4_xs},
};

const Codec& codec_for(GgmlType type, int64_t n) {
  ggml_row_bytes(type, n);  // checks that n is whole blocks
  for (const auto& codec : kCodecs)
    if (codec.type == type) return codec;
  fail_runtime(std::string("no codec for ggml type ") + ggml_type_name(type));
}

}  // namespace

void dequantize_row(GgmlType type, const uint8_t* bytes, float* out, int64_t n) {
  codec_for(type, n).decode(bytes, out, n);
}

void quantize_row(GgmlType type, const float* in, uint8_t* out, int64_t n, const float* importance) {
  codec_for(type, n).encode(in, out, n, importance);
}

}  // namespace mp
