#include "formats/gguf_codecs.h"

#include <cstring>

#include "formats/gguf_block_io.h"
#include "formats/half_float.h"
#include "lib/base/error.h"

namespace mp {

namespace {

using gguf_blocks::RowCodec;

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

const std::vector<RowCodec>& all_codecs() {
  static const std::vector<RowCodec> codecs = [] {
    std::vector<RowCodec> all = {
        {GgmlType::F32, decode_f32, encode_f32},
        {GgmlType::F16, decode_halves<fp16_to_fp32>, encode_halves<fp32_to_fp16>},
        {GgmlType::BF16, decode_halves<bf16_to_fp32>, encode_halves<fp32_to_bf16>},
    };
    for (auto list : {gguf_blocks::legacy_quant_codecs, gguf_blocks::kquant_2_3bit_codecs,
                      gguf_blocks::kquant_4_6bit_codecs, gguf_blocks::iq4_codecs})
      for (const RowCodec& codec : list()) all.push_back(codec);
    return all;
  }();
  return codecs;
}

const RowCodec* find_codec(GgmlType type) {
  for (const auto& codec : all_codecs())
    if (codec.type == type) return &codec;
  return nullptr;
}

const RowCodec& codec_for(GgmlType type, int64_t n) {
  ggml_row_bytes(type, n);  // checks that n is whole blocks
  if (const RowCodec* codec = find_codec(type)) return *codec;
  fail_runtime(std::string("no codec for ggml type ") + ggml_type_name(type));
}

}  // namespace

bool has_codec(GgmlType type) { return find_codec(type) != nullptr; }

void dequantize_row(GgmlType type, const uint8_t* bytes, float* out, int64_t n) {
  codec_for(type, n).decode(bytes, out, n);
}

void quantize_row(GgmlType type, const float* in, uint8_t* out, int64_t n, const float* importance) {
  codec_for(type, n).encode(in, out, n, importance);
}

void pack_row_levels(GgmlType type, const float* d, const float* m, const uint8_t* levels, uint8_t* out, int64_t n) {
  ggml_row_bytes(type, n);  // checks that n is whole blocks
  gguf_blocks::pack_legacy_levels(type, d, m, levels, out, n);
}

}  // namespace mp
