// GGUF block codecs against ggml's golden vectors (../shared/gguf-vectors/block-codecs.safetensors),
// and the fp16/bf16 conversions against LibTorch's independent ones.
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cmath>
#include <cstring>
#include <random>

#include "formats/gguf_codecs.h"
#include "formats/half_float.h"
#include "formats/safetensors.h"
#include "lib/base/error.h"
#include "tests/test_support.h"

namespace {

using mp::GgmlType;

const char* const kGoldenTypes[] = {"q4_0", "q4_1", "q5_0", "q5_1",   "q8_0",   "q2_k", "q3_k",
                                    "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs", "f16",  "bf16"};

GgmlType type_named(const std::string& name) {
  GgmlType type;
  REQUIRE(mp::parse_ggml_type(name, &type));
  return type;
}

// Row r of a 2-D tensor from the golden file, contiguous.
template <class T>
const T* row(const at::Tensor& t, int64_t r) {
  return static_cast<const T*>(t.data_ptr()) + r * t.size(1);
}

// The first element whose bits differ, or -1.
int64_t first_bit_difference(const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::memcmp(a + i, b + i, sizeof(float)) != 0) return i;
  return -1;
}

int64_t first_byte_difference(const uint8_t* a, const uint8_t* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return i;
  return -1;
}

struct Golden {
  mp::SafetensorsFile file{mp::test::shared_path("gguf-vectors/block-codecs.safetensors")};
  at::Tensor get(const std::string& name) const {
    const auto* info = file.find(name);
    REQUIRE(info);
    return file.tensor(*info).contiguous();
  }
};

}  // namespace

TEST_CASE("gguf codecs: decoders are bit-exact with ggml on every golden row", "[gguf]") {
  Golden golden;
  for (const char* name : kGoldenTypes)
    for (const std::string variant : {"", ".imatrix"}) {
      const at::Tensor bytes = golden.get(std::string(name) + variant + ".bytes");
      const at::Tensor expected = golden.get(std::string(name) + variant + ".dequant");
      const int64_t n = expected.size(1);
      std::vector<float> out(n);
      for (int64_t r = 0; r < expected.size(0); ++r) {
        mp::dequantize_row(type_named(name), row<uint8_t>(bytes, r), out.data(), n);
        INFO(name << variant << " row " << r);
        CHECK(first_bit_difference(out.data(), row<float>(expected, r), n) == -1);
      }
    }
}

TEST_CASE("gguf codecs: encoders reproduce ggml's bytes, with and without importance", "[gguf]") {
  Golden golden;
  const at::Tensor input = golden.get("input");
  const at::Tensor imatrix = golden.get("imatrix");
  const int64_t n = input.size(1);
  for (const char* name : kGoldenTypes)
    for (const bool weighted : {false, true}) {
      const at::Tensor expected = golden.get(std::string(name) + (weighted ? ".imatrix" : "") + ".bytes");
      std::vector<uint8_t> out(expected.size(1));
      REQUIRE(mp::ggml_row_bytes(type_named(name), n) == out.size());
      for (int64_t r = 0; r < input.size(0); ++r) {
        mp::quantize_row(type_named(name), row<float>(input, r), out.data(), n,
                         weighted ? imatrix.data_ptr<float>() : nullptr);
        INFO(name << (weighted ? " with importance" : "") << " row " << r);
        CHECK(first_byte_difference(out.data(), row<uint8_t>(expected, r), out.size()) == -1);
      }
    }
}

TEST_CASE("gguf codecs: round trips stay within each format's precision", "[gguf]") {
  std::mt19937 rng(7);
  std::normal_distribution<float> gauss(0.f, 1.f);
  const int64_t n = 1024;
  std::vector<float> x(n), back(n);
  for (auto& v : x) v = gauss(rng);
  // Relative RMS error bounds, loose enough for any correct codec, tight enough to catch a wrong one.
  const std::pair<GgmlType, double> bounds[] = {
      {GgmlType::F32, 0.0},     {GgmlType::F16, 1e-3},  {GgmlType::BF16, 5e-3}, {GgmlType::Q8_0, 0.01},
      {GgmlType::Q6_K, 0.03},   {GgmlType::Q5_0, 0.06}, {GgmlType::Q5_1, 0.06}, {GgmlType::Q5_K, 0.06},
      {GgmlType::Q4_0, 0.12},   {GgmlType::Q4_1, 0.12}, {GgmlType::Q4_K, 0.12}, {GgmlType::IQ4_NL, 0.12},
      {GgmlType::IQ4_XS, 0.12}, {GgmlType::Q3_K, 0.25}, {GgmlType::Q2_K, 0.5},
  };
  for (const auto& [type, bound] : bounds) {
    std::vector<uint8_t> bytes(mp::ggml_row_bytes(type, n));
    mp::quantize_row(type, x.data(), bytes.data(), n);
    mp::dequantize_row(type, bytes.data(), back.data(), n);
    double err = 0, norm = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += (back[i] - x[i]) * double(back[i] - x[i]);
      norm += x[i] * double(x[i]);
    }
    INFO(mp::ggml_type_name(type));
    CHECK(std::sqrt(err / norm) <= bound);
    // Requantizing what a codec decodes must not move it further.
    std::vector<uint8_t> again(bytes.size());
    std::vector<float> back2(n);
    mp::quantize_row(type, back.data(), again.data(), n);
    mp::dequantize_row(type, again.data(), back2.data(), n);
    double drift = 0;
    for (int64_t i = 0; i < n; ++i) drift += (back2[i] - back[i]) * double(back2[i] - back[i]);
    CHECK(std::sqrt(drift / norm) <= bound);
  }
}

TEST_CASE("gguf codecs: rows that are not whole blocks are refused", "[gguf]") {
  std::vector<float> x(48);
  std::vector<uint8_t> bytes(64);
  CHECK_THROWS_AS(mp::quantize_row(GgmlType::Q4_0, x.data(), bytes.data(), 48), mp::Error);
  CHECK_THROWS_AS(mp::dequantize_row(GgmlType::Q4_K, bytes.data(), x.data(), 32), mp::Error);
  CHECK_THROWS_AS(mp::dequantize_row(GgmlType::IQ2_XXS, bytes.data(), x.data(), 256), mp::Error);
}

TEST_CASE("fp16 and bf16 conversions round like LibTorch's (to nearest, ties to even)", "[gguf]") {
  // Every half survives a round trip; c10::Half decodes the same way.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = mp::fp16_to_fp32(static_cast<uint16_t>(h));
    const float reference = static_cast<float>(c10::Half(static_cast<uint16_t>(h), c10::Half::from_bits()));
    if (std::isnan(reference)) {
      CHECK(std::isnan(f));
      continue;
    }
    REQUIRE(std::memcmp(&f, &reference, 4) == 0);
    REQUIRE(mp::fp32_to_fp16(f) == h);
  }
  // Floats between halves, including exact ties, subnormals, overflow.
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> any_bits;
  std::vector<float> samples = {65504.f,
                                65519.99f,
                                65520.f,
                                1e9f,
                                -1e9f,
                                std::ldexp(1.f, -25),
                                3 * std::ldexp(1.f, -25),
                                std::ldexp(1.f, -26),
                                1.f + std::ldexp(1.f, -11),
                                1.f + 3 * std::ldexp(1.f, -11),
                                -0.f,
                                1e-45f};
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = any_bits(rng);
    if (i % 2) bits = (bits & 0x87ffffff) | 0x38000000;  // concentrate on the half range
    float f;
    std::memcpy(&f, &bits, 4);
    if (!std::isnan(f)) samples.push_back(f);
  }
  for (const float f : samples) {
    INFO("value " << f);
    CHECK(mp::fp32_to_fp16(f) == c10::Half(f).x);
    CHECK(mp::fp32_to_bf16(f) == c10::BFloat16(f).x);
    CHECK(mp::bf16_to_fp32(mp::fp32_to_bf16(f)) == static_cast<float>(c10::BFloat16(f)));
  }
  // NaN stays NaN (quiet) in both.
  const float nan = std::nanf("");
  CHECK(std::isnan(mp::fp16_to_fp32(mp::fp32_to_fp16(nan))));
  CHECK(std::isnan(mp::bf16_to_fp32(mp::fp32_to_bf16(nan))));
  uint32_t signalling = 0x7f800001;
  float snan;
  std::memcpy(&snan, &signalling, 4);
  CHECK((mp::fp32_to_bf16(snan) & 0x40) != 0);
}

TEST_CASE("gguf types: ids, names and block sizes as ggml has them", "[gguf]") {
  CHECK(mp::find_ggml_type(4) == nullptr);  // q4_2, removed from ggml
  CHECK(mp::find_ggml_type(43) == nullptr);
  REQUIRE(mp::find_ggml_type(12));
  CHECK(mp::find_ggml_type(12)->type == GgmlType::Q4_K);
  GgmlType type;
  CHECK((mp::parse_ggml_type("Q4_K", &type) && type == GgmlType::Q4_K));
  CHECK((mp::parse_ggml_type("IQ4_nl", &type) && type == GgmlType::IQ4_NL));
  CHECK_FALSE(mp::parse_ggml_type("q4_k_m", &type));
  // Bits per weight as llama.cpp documents them.
  const std::pair<GgmlType, double> bpw[] = {
      {GgmlType::Q8_0, 8.5},       {GgmlType::Q4_0, 4.5},    {GgmlType::Q5_1, 6.0},
      {GgmlType::Q2_K, 2.625},     {GgmlType::Q3_K, 3.4375}, {GgmlType::Q4_K, 4.5},
      {GgmlType::Q5_K, 5.5},       {GgmlType::Q6_K, 6.5625}, {GgmlType::IQ4_XS, 4.25},
      {GgmlType::IQ2_XXS, 2.0625}, {GgmlType::IQ1_M, 1.75},  {GgmlType::TQ1_0, 1.6875},
  };
  for (const auto& [t, bits] : bpw) {
    INFO(mp::ggml_type_name(t));
    CHECK(mp::ggml_row_bytes(t, 512) * 8 / 512.0 == bits);
  }
}
