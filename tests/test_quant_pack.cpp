// Packing of quantized layers into HF GPTQ and AutoAWQ GEMM tensors.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>

#include "lib/base/error.h"
#include "quant/affine_grid.h"
#include "quant/bit_packing.h"
#include "quant/pack_awq.h"
#include "quant/pack_gptq.h"

namespace {

// Word w holds bits [32w, 32w + 32) of one long little-endian stream per column; code k of the
// column starts at bit k·bits of that stream. Set the stream one bit at a time.
at::Tensor reference_pack_rows(const at::Tensor& codes, int bits) {
  const int64_t count = codes.size(0), width = codes.size(1);
  std::vector<uint32_t> words(static_cast<size_t>(count * bits / 32 * width), 0);
  for (int64_t c = 0; c < width; ++c)
    for (int64_t k = 0; k < count; ++k)
      for (int b = 0; b < bits; ++b)
        if ((codes[k][c].item<int64_t>() >> b) & 1) {
          const int64_t bit = k * bits + b;
          words[(bit / 32) * width + c] |= uint32_t{1} << (bit % 32);
        }
  at::Tensor out = at::empty({count * bits / 32, width}, at::kInt);
  std::memcpy(out.data_ptr<int32_t>(), words.data(), words.size() * sizeof(uint32_t));
  return out;
}

at::Tensor random_codes(int64_t rows, int64_t columns, int bits) {
  return at::randint(0, int64_t{1} << bits, {rows, columns}, at::kInt);
}

// A layer with arbitrary codes, zeros in [1, max] and fp16 scales, groups of 32 in column order.
mp::QuantizedLinear random_layer(int bits, int64_t out, int64_t in) {
  mp::AffineGridOptions options;
  options.bits = bits;
  options.group_size = 32;
  auto grid = std::make_shared<mp::AffineGrid>(options);
  const int64_t groups = grid->group_count(in);
  return {random_codes(out, in, bits),
          at::rand({out, groups}).add_(0.01).to(at::kHalf).to(at::kFloat),
          at::randint(1, int64_t{1} << bits, {out, groups}, at::kInt).to(at::kFloat),
          grid->sequential_groups(in), grid};
}

}  // namespace

TEST_CASE("bit packing matches a bit-by-bit reference for 2, 3, 4 and 8 bits", "[quant]") {
  at::manual_seed(1);
  for (int bits : {2, 3, 4, 8}) {
    const at::Tensor codes = random_codes(64, 5, bits);
    const at::Tensor packed = mp::pack_bits(codes, bits, 0);
    CHECK(at::equal(packed, reference_pack_rows(codes, bits)));
    CHECK(at::equal(mp::unpack_bits(packed, bits, 0, 64), codes));
    // Along columns it is the same layout, transposed.
    CHECK(at::equal(mp::pack_bits(codes.t(), bits, 1), packed.t()));
    CHECK(at::equal(mp::unpack_bits(packed.t(), bits, 1, 64), codes.t()));
  }
}

TEST_CASE("bit packing: hand-computed words", "[quant]") {
  // 4 bits: codes 1..8 in one word, lowest bits first: 0x87654321.
  const at::Tensor four = at::arange(1, 9, at::kInt).unsqueeze(1);
  CHECK(mp::pack_bits(four, 4, 0).item<int32_t>() == static_cast<int32_t>(0x87654321u));

  // 3 bits: 32 codes over 3 words; code 10 straddles words 0/1, code 21 straddles words 1/2.
  at::Tensor three = at::zeros({32, 1}, at::kInt);
  three[0][0] = 7;   // word 0 bits 0-2
  three[10][0] = 5;  // 0b101: low bits 01 at word 0 bits 30-31, high bit at word 1 bit 0
  three[11][0] = 3;  // word 1 bits 1-2
  three[21][0] = 6;  // 0b110: bit 0 at word 1 bit 31, bits 11 at word 2 bits 0-1
  three[31][0] = 4;  // word 2 bits 29-31
  const at::Tensor words = mp::pack_bits(three, 3, 0);
  REQUIRE(words.size(0) == 3);
  CHECK(words[0][0].item<int32_t>() == static_cast<int32_t>(7u | (1u << 30)));
  CHECK(words[1][0].item<int32_t>() == static_cast<int32_t>(1u | (3u << 1)));
  CHECK(words[2][0].item<int32_t>() == static_cast<int32_t>(3u | (4u << 29)));
  CHECK(at::equal(mp::unpack_bits(words, 3, 0, 32), three));
}

TEST_CASE("bit packing rejects codes that do not fit and ragged runs", "[quant]") {
  CHECK_THROWS_AS(mp::pack_bits(at::full({8, 1}, 16, at::kInt), 4, 0), mp::Error);
  CHECK_THROWS_AS(mp::pack_bits(at::zeros({16, 1}, at::kInt), 3, 0), mp::Error);
}

TEST_CASE("HF GPTQ packing round-trips for 2, 3, 4, 8 bits and both zero conventions", "[quant]") {
  at::manual_seed(2);
  using Format = mp::GptqCheckpointFormat;
  for (int bits : {2, 3, 4, 8})
    for (Format format : {Format::gptq, Format::gptq_v2}) {
      CAPTURE(bits, format == Format::gptq);
      const mp::QuantizedLinear layer = random_layer(bits, 64, 96);
      const mp::GptqTensors tensors = mp::pack_gptq(layer, format);
      CHECK(tensors.qweight.sizes() == at::IntArrayRef{96 * bits / 32, 64});
      CHECK(tensors.qzeros.sizes() == at::IntArrayRef{3, 64 * bits / 32});
      CHECK(tensors.scales.sizes() == at::IntArrayRef{3, 64});
      CHECK(tensors.scales.scalar_type() == at::kHalf);
      CHECK(tensors.qweight.scalar_type() == at::kInt);

      const mp::QuantizedLinear back = mp::unpack_gptq(tensors, bits, 32, false, format);
      CHECK(at::equal(back.codes, layer.codes));
      CHECK(at::equal(back.zeros, layer.zeros));
      CHECK(at::equal(back.scales, layer.scales));
      CHECK(at::equal(back.g_idx, layer.g_idx));
      CHECK(at::equal(back.dequantize(), layer.dequantize()));
    }
}

TEST_CASE("HF GPTQ zero conventions: gptq stores zero - 1, gptq_v2 the zero itself", "[quant]") {
  mp::QuantizedLinear layer = random_layer(4, 8, 32);
  layer.zeros.fill_(8);  // symmetric 4-bit, as in most published checkpoints
  CHECK(mp::pack_gptq(layer, mp::GptqCheckpointFormat::gptq).qzeros.item<int32_t>() == 0x77777777);
  CHECK(mp::pack_gptq(layer, mp::GptqCheckpointFormat::gptq_v2).qzeros.item<int32_t>() ==
        static_cast<int32_t>(0x88888888u));

  layer.zeros[3][0] = 0;  // representable in v2 only
  CHECK_THROWS_AS(mp::pack_gptq(layer, mp::GptqCheckpointFormat::gptq), mp::Error);
  const mp::GptqTensors v2 = mp::pack_gptq(layer, mp::GptqCheckpointFormat::gptq_v2);
  CHECK(at::equal(mp::unpack_gptq(v2, 4, 32, false, mp::GptqCheckpointFormat::gptq_v2).zeros,
                  layer.zeros));
}

TEST_CASE("HF GPTQ packing keeps an act-order g_idx and refuses non-fp16 scales", "[quant]") {
  at::manual_seed(3);
  mp::QuantizedLinear layer = random_layer(4, 16, 64);
  layer.g_idx = layer.g_idx.index_select(0, at::randperm(64, at::kLong));
  const mp::GptqTensors tensors = mp::pack_gptq(layer, mp::GptqCheckpointFormat::gptq_v2);
  const mp::QuantizedLinear back =
      mp::unpack_gptq(tensors, 4, 32, false, mp::GptqCheckpointFormat::gptq_v2);
  CHECK(at::equal(back.g_idx, layer.g_idx));
  CHECK(at::equal(back.dequantize(), layer.dequantize()));

  layer.scales[0][0] = 0.1f + 1e-6f;
  CHECK_THROWS_AS(mp::pack_gptq(layer, mp::GptqCheckpointFormat::gptq_v2), mp::Error);
}

TEST_CASE("AWQ GEMM packing: nibble order 0,2,4,6,1,3,5,7 and round trip", "[quant]") {
  at::manual_seed(4);
  mp::QuantizedLinear layer = random_layer(4, 32, 64);
  // Output columns 0..7 of input row 0 get codes 0..7: nibble i holds column order[i].
  for (int64_t column = 0; column < 8; ++column) layer.codes[column][0] = column;
  const mp::AwqTensors tensors = mp::pack_awq(layer);
  CHECK(tensors.qweight.sizes() == at::IntArrayRef{64, 4});
  CHECK(tensors.qzeros.sizes() == at::IntArrayRef{2, 4});
  CHECK(tensors.scales.sizes() == at::IntArrayRef{2, 32});
  CHECK(tensors.qweight[0][0].item<int32_t>() == 0x75316420);

  const mp::QuantizedLinear back = mp::unpack_awq(tensors, 32);
  CHECK(at::equal(back.codes, layer.codes));
  CHECK(at::equal(back.zeros, layer.zeros));
  CHECK(at::equal(back.scales, layer.scales));
  CHECK(at::equal(back.dequantize(), layer.dequantize()));

  layer.g_idx = layer.g_idx.flip(0);
  CHECK_THROWS_AS(mp::pack_awq(layer), mp::Error);
}
