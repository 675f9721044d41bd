// GPTQ solving on a ggml block type itself (formats/gguf_block_grid.h): the blocks it writes decode
// to exactly the weights the solve measured, and without error feedback they are the type's own
// encoder's bytes.
#include <catch2/catch.hpp>

#include <vector>

#include "formats/gguf_block_grid.h"
#include "formats/gguf_codecs.h"
#include "quant/gptq.h"
#include "quant/hessian.h"

namespace {

constexpr mp::GgmlType kTypes[] = {mp::GgmlType::Q2_K, mp::GgmlType::Q3_K, mp::GgmlType::Q4_K, mp::GgmlType::Q5_K,
                                   mp::GgmlType::Q6_K};

// Every row of w [rows, n] through the type's encoder (importance: one weight per column, or none).
std::vector<uint8_t> encoder_bytes(mp::GgmlType type, const at::Tensor& w, const at::Tensor& importance) {
  const int64_t rows = w.size(0), n = w.size(1);
  const uint64_t row_bytes = mp::ggml_row_bytes(type, n);
  std::vector<uint8_t> out(row_bytes * rows);
  const at::Tensor x = w.contiguous();
  for (int64_t r = 0; r < rows; ++r)
    mp::quantize_row(type, x.data_ptr<float>() + r * n, out.data() + r * row_bytes, n,
                     importance.defined() ? importance.data_ptr<float>() : nullptr);
  return out;
}

at::Tensor decode(mp::GgmlType type, const std::vector<uint8_t>& bytes, int64_t rows, int64_t n) {
  at::Tensor out = at::empty({rows, n}, at::kFloat);
  const uint64_t row_bytes = mp::ggml_row_bytes(type, n);
  for (int64_t r = 0; r < rows; ++r)
    mp::dequantize_row(type, bytes.data() + r * row_bytes, out.data_ptr<float>() + r * n, n);
  return out;
}

// Weights with a few outliers, as trained linears have.
at::Tensor test_weights(int64_t rows, int64_t n) {
  return at::randn({rows, n}) * 0.02 + (at::rand({rows, n}) < 0.01).to(at::kFloat) * at::randn({rows, n}) * 0.2;
}

}  // namespace

TEST_CASE("gguf block grid: choose, level and pack are the encoder, byte for byte", "[gguf][gptq]") {
  at::manual_seed(11);
  const at::Tensor w = test_weights(6, 512);
  const at::Tensor importance = at::rand({512}) * 4 + 0.01;
  for (mp::GgmlType type : kTypes) {
    INFO(mp::ggml_type_name(type));
    const auto grid = std::make_shared<mp::GgufBlockGrid>(type);
    for (const at::Tensor& imp : {at::Tensor(), importance}) {
      at::Tensor stored;
      const mp::GridParams params = grid->choose_stored(w, imp, stored);
      const at::Tensor g_idx = grid->sequential_groups(w.size(1));
      const at::Tensor codes = grid->quantize(w, params.for_columns(g_idx));
      const mp::QuantizedLinear layer{codes, params.scale, params.zero, g_idx, grid->bind(stored)};
      CHECK(mp::pack_block_grid_tensor(layer) == encoder_bytes(type, w, imp));
    }
  }
}

TEST_CASE("gguf block grid: GPTQ with an identity Hessian writes the encoder's blocks", "[gguf][gptq]") {
  // H = I: no column's error reaches another, so GPTQ is rounding on the grid the search chose.
  at::manual_seed(12);
  const at::Tensor w = test_weights(4, 512);
  for (mp::GgmlType type : kTypes) {
    INFO(mp::ggml_type_name(type));
    for (bool hessian_importance : {false, true}) {
      mp::GptqOptions options;
      options.hessian_importance = hessian_importance;  // diag(H) = 1 then
      const auto result = mp::quantize_gptq(w, at::eye(512), std::make_shared<mp::GgufBlockGrid>(type), options);
      const at::Tensor importance = hessian_importance ? at::ones({512}) : at::Tensor();
      CHECK(mp::pack_block_grid_tensor(result.layer) == encoder_bytes(type, w, importance));
    }
  }
}

TEST_CASE("gguf block grid: GPTQ's blocks decode to the weights it measured and beat the encoder",
          "[gguf][gptq]") {
  at::manual_seed(13);
  const int64_t n = 512, rows = 16;
  const at::Tensor mixing = at::randn({n, n}) / 16 + at::eye(n);
  const at::Tensor x = at::matmul(at::randn({2048, n}), mixing) * (at::rand({n}) * 2 + 0.2);
  mp::HessianAccumulator accumulator(n);
  accumulator.add(x);
  const at::Tensor h = accumulator.matrix();
  const at::Tensor w = test_weights(rows, n);
  auto output_error = [&](const at::Tensor& w_hat) {
    return at::matmul(x, (w - w_hat).t()).square().sum().item<double>();
  };
  for (mp::GgmlType type : kTypes) {
    INFO(mp::ggml_type_name(type));
    mp::GptqOptions options;
    options.hessian_importance = true;
    const auto result = mp::quantize_gptq(w, h, std::make_shared<mp::GgufBlockGrid>(type), options);
    const std::vector<uint8_t> bytes = mp::pack_block_grid_tensor(result.layer);
    const at::Tensor solved = result.layer.dequantize();
    CHECK(at::equal(decode(type, bytes, rows, n), solved));
    // The encoder alone, with the same importance (diag H): what llama-quantize --imatrix does.
    const at::Tensor importance = h.diagonal().to(at::kFloat).contiguous();
    const double encoder = output_error(decode(type, encoder_bytes(type, w, importance), rows, n));
    CHECK(output_error(solved) < 0.8 * encoder);
  }
}

TEST_CASE("gguf block grid: act-order is refused on a block grid", "[gguf][gptq]") {
  mp::GptqOptions options;
  options.act_order = true;
  const at::Tensor h = at::diag(at::arange(1, 257, at::kFloat));
  CHECK_THROWS(mp::quantize_gptq(at::randn({2, 256}), h, std::make_shared<mp::GgufBlockGrid>(mp::GgmlType::Q4_K),
                                 options));
}

TEST_CASE("gguf block grid: a file's blocks give back the grid they were written on", "[gguf][qad]") {
  at::manual_seed(14);
  const int64_t rows = 6, n = 512;
  const at::Tensor w = test_weights(rows, n);
  const at::Tensor importance = at::rand({n}) * 4 + 0.01;
  for (mp::GgmlType type : kTypes) {
    INFO(mp::ggml_type_name(type));
    at::Tensor chosen;
    const mp::GridParams params = std::make_shared<mp::GgufBlockGrid>(type)->choose_stored(w, importance, chosen);
    const std::vector<uint8_t> bytes = encoder_bytes(type, w, importance);
    const auto grid = mp::block_grid_of_tensor_data(type, bytes.data(), rows, n);
    CHECK(at::equal(grid->stored(), chosen));  // the header the search made, read back from the blocks
    const mp::GridParams stored = grid->stored_params();
    CHECK(at::equal(stored.scale, params.scale));
    CHECK(at::equal(stored.zero, params.zero));
    // Levelling w on them is the encoder's levelling; levelling the decoded blocks gives them back.
    CHECK(mp::pack_block_grid_tensor(mp::level_on_bound_grid(grid, w)) == bytes);
    const at::Tensor decoded = decode(type, bytes, rows, n);
    CHECK(at::equal(mp::level_on_bound_grid(grid, decoded).dequantize(), decoded));
    // Other weights on the same parameters: new codes, the same headers, and what their blocks decode to.
    const mp::QuantizedLinear moved = mp::level_on_bound_grid(grid, w + at::randn({rows, n}) * 0.01);
    const std::vector<uint8_t> moved_bytes = mp::pack_block_grid_tensor(moved);
    CHECK(moved_bytes != bytes);
    CHECK(at::equal(mp::block_grid_of_tensor_data(type, moved_bytes.data(), rows, n)->stored(), chosen));
    CHECK(at::equal(decode(type, moved_bytes, rows, n), moved.dequantize()));
  }
}
