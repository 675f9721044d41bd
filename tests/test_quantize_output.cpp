// The output stage of quantize --to gguf (quant/quantize_output.h): the output matrix solved by
// GPTQ on its ggml grid beats the plain export's blocks on the Hessian-weighted error and writes
// blocks that decode to the solved weights; an untied embedding's rows are the encoder's, with
// each row's token count as its importance.
#include <catch2/catch.hpp>

#include <vector>

#include "formats/gguf_block_grid.h"
#include "formats/gguf_codecs.h"
#include "quant/quantize_output.h"

namespace {

// Row r of w [rows, n] through the type's encoder, importance `importance[r]` (a row of one weight
// per column) or none where that row is undefined.
std::vector<uint8_t> encoder_row(mp::GgmlType type, const at::Tensor& row, const at::Tensor& importance) {
  const int64_t n = row.size(0);
  std::vector<uint8_t> out(mp::ggml_row_bytes(type, n));
  const at::Tensor x = row.contiguous(), imp = importance.defined() ? importance.contiguous() : at::Tensor();
  mp::quantize_row(type, x.data_ptr<float>(), out.data(), n, imp.defined() ? imp.data_ptr<float>() : nullptr);
  return out;
}

at::Tensor decode(mp::GgmlType type, const std::vector<uint8_t>& bytes, int64_t rows, int64_t n) {
  at::Tensor out = at::empty({rows, n}, at::kFloat);
  const uint64_t row_bytes = mp::ggml_row_bytes(type, n);
  for (int64_t r = 0; r < rows; ++r)
    mp::dequantize_row(type, bytes.data() + r * row_bytes, out.data_ptr<float>() + r * n, n);
  return out;
}

}  // namespace

TEST_CASE("output stage: GPTQ on the output matrix's grid beats the plain export and writes what it solved",
          "[gguf][output]") {
  at::manual_seed(21);
  const int64_t n = 512, vocab = 300;  // 300 rows: chunks of 128 leave a ragged last one
  const at::Tensor mixing = at::randn({n, n}) / 16 + at::eye(n);
  const at::Tensor x = at::matmul(at::randn({2048, n}), mixing) * (at::rand({n}) * 2 + 0.2);
  mp::HessianAccumulator accumulator(n);
  accumulator.add(x);
  const at::Tensor h = accumulator.matrix();
  const at::Tensor w = at::randn({vocab, n}) * 0.05;
  for (mp::GgmlType type : {mp::GgmlType::Q6_K, mp::GgmlType::Q4_K}) {
    INFO(mp::ggml_type_name(type));
    mp::GptqOptions options;
    options.hessian_importance = true;
    const auto solved = mp::quantize_gptq_by_rows(w, h, std::make_shared<mp::GgufBlockGrid>(type), options, 128);
    const at::Tensor weights = solved.layer.dequantize();
    const std::vector<uint8_t> bytes = mp::pack_block_grid_tensor(solved.layer);
    CHECK(at::equal(decode(type, bytes, vocab, n), weights));
    // The chunks' error terms add up to the whole matrix's.
    CHECK(solved.error.relative() == Approx(mp::hessian_weighted_error(w, weights, h).relative()).epsilon(1e-9));
    // Uncalibrated: every row through the encoder without importance, as export writes the output.
    std::vector<uint8_t> plain;
    for (int64_t r = 0; r < vocab; ++r) {
      const auto row = encoder_row(type, w[r], at::Tensor());
      plain.insert(plain.end(), row.begin(), row.end());
    }
    const double uncalibrated = mp::hessian_weighted_error(w, decode(type, plain, vocab, n), h).relative();
    CHECK(solved.error.relative() < 0.8 * uncalibrated);
  }
}

TEST_CASE("output stage: an untied embedding's rows take their token's count as importance", "[gguf][output]") {
  at::manual_seed(22);
  const int64_t vocab = 40, n = 256;
  const at::Tensor w = at::randn({vocab, n}) * 0.05;
  // Tokens 0..19 occur (token t, t % 5 + 1 times); 20..39 never.
  std::vector<int64_t> ids;
  for (int64_t t = 0; t < 20; ++t)
    for (int64_t k = 0; k <= t % 5; ++k) ids.push_back(t);
  const at::Tensor tokens = at::tensor(ids).reshape({-1, 1});
  for (mp::GgmlType type : {mp::GgmlType::Q4_K, mp::GgmlType::Q6_K, mp::GgmlType::Q2_K}) {
    INFO(mp::ggml_type_name(type));
    const mp::QuantizedLinear q =
        mp::quantize_lookup_rows(w, tokens, std::make_shared<mp::GgufBlockGrid>(type), /*chunk_rows=*/16);
    const std::vector<uint8_t> bytes = mp::pack_block_grid_tensor(q);
    CHECK(at::equal(decode(type, bytes, vocab, n), q.dequantize()));
    const uint64_t row_bytes = mp::ggml_row_bytes(type, n);
    int64_t differs_from_unweighted = 0;
    for (int64_t r = 0; r < vocab; ++r) {
      INFO("row " << r);
      const std::vector<uint8_t> row(bytes.begin() + r * row_bytes, bytes.begin() + (r + 1) * row_bytes);
      const at::Tensor importance = r < 20 ? at::full({n}, static_cast<float>(r % 5 + 1)) : at::Tensor();
      CHECK(row == encoder_row(type, w[r], importance));
      differs_from_unweighted += r < 20 && row != encoder_row(type, w[r], at::Tensor());
    }
    CHECK(differs_from_unweighted > 0);  // the weighted search is not the reference one
  }
}
