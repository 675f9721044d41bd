// Throughput of the GGUF block codecs: MB/s of float32 input encoded and of float32 output decoded,
// per type, single-threaded, on gaussian rows of 4096 values.
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "formats/gguf_codecs.h"

namespace {

template <class F>
double seconds_per_call(F&& f) {
  using clock = std::chrono::steady_clock;
  int calls = 0;
  const auto start = clock::now();
  double elapsed = 0;
  while (elapsed < 0.3) {
    f();
    ++calls;
    elapsed = std::chrono::duration<double>(clock::now() - start).count();
  }
  return elapsed / calls;
}

}  // namespace

int main() {
  using mp::GgmlType;
  constexpr int64_t kRow = 4096, kRows = 64;
  std::mt19937 rng(1);
  std::normal_distribution<float> gauss;
  std::vector<float> values(kRow * kRows), decoded(kRow * kRows);
  for (auto& v : values) v = gauss(rng);
  const double mb = values.size() * sizeof(float) / 1e6;

  const GgmlType types[] = {GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,   GgmlType::Q4_1,  GgmlType::Q5_0,
                            GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,   GgmlType::Q3_K,  GgmlType::Q4_K,
                            GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS};
  std::vector<float> importance(kRow, 1.0f);
  std::printf("%-8s %14s %20s %14s  (MB of float32 per second)\n", "type", "encode", "encode+importance",
              "decode");
  for (const GgmlType type : types) {
    const uint64_t row_bytes = mp::ggml_row_bytes(type, kRow);
    std::vector<uint8_t> bytes(row_bytes * kRows);
    auto encode = [&](const float* w) {
      for (int64_t r = 0; r < kRows; ++r)
        mp::quantize_row(type, &values[r * kRow], &bytes[r * row_bytes], kRow, w);
    };
    const double enc = seconds_per_call([&] { encode(nullptr); });
    const double enc_w = seconds_per_call([&] { encode(importance.data()); });
    const double dec = seconds_per_call([&] {
      for (int64_t r = 0; r < kRows; ++r)
        mp::dequantize_row(type, &bytes[r * row_bytes], &decoded[r * kRow], kRow);
    });
    std::printf("%-8s %14.1f %20.1f %14.1f\n", mp::ggml_type_name(type), mb / enc, mb / enc_w, mb / dec);
  }
}
