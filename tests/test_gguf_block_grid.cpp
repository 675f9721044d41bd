// GPTQ solving on a ggml block type itself (formats/gguf_block_grid.h), for every type modelpress
// encodes: the grid's parameters are the type's own search, the blocks it writes decode (through
// dequantize_row, bit-exact with ggml's decoders on the golden vectors of test_gguf_codecs.cpp) to
// exactly the weights the solve measured, and GPTQ on the grid beats rounding on the same grid.
#include <catch2/catch.hpp>

#include <vector>

#include "formats/gguf_block_grid.h"
#include "formats/gguf_codecs.h"
#include "quant/gptq.h"
#include "quant/hessian.h"

namespace {

using mp::GgmlType;

constexpr GgmlType kKQuants[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
// Types whose blocks open with their stored parameters (fp16 d, m; iq4_xs's multipliers).
constexpr GgmlType kHeaderFirst[] = {GgmlType::Q4_0, GgmlType::Q4_1,   GgmlType::Q5_0,  GgmlType::Q5_1,
                                     GgmlType::Q8_0, GgmlType::IQ4_NL, GgmlType::IQ4_XS};

std::vector<GgmlType> all_types() {
  std::vector<GgmlType> types(std::begin(kKQuants), std::end(kKQuants));
  types.insert(types.end(), std::begin(kHeaderFirst), std::end(kHeaderFirst));
  return types;
}

// Every row of w [rows, n] through the type's encoder; importance: one weight per column ([n]) or
// per value ([rows, n]), or none.
std::vector<uint8_t> encoder_bytes(GgmlType type, const at::Tensor& w, const at::Tensor& importance) {
  const int64_t rows = w.size(0), n = w.size(1);
  const uint64_t row_bytes = mp::ggml_row_bytes(type, n);
  std::vector<uint8_t> out(row_bytes * rows);
  const at::Tensor x = w.contiguous();
  const at::Tensor imp = importance.defined() ? importance.expand({rows, n}).contiguous() : at::Tensor();
  for (int64_t r = 0; r < rows; ++r)
    mp::quantize_row(type, x.data_ptr<float>() + r * n, out.data() + r * row_bytes, n,
                     imp.defined() ? imp.data_ptr<float>() + r * n : nullptr);
  return out;
}

// The encoder run on each span the grid chooses at once (a block, or a k-quant super-block) as a
// row of its own: the values GPTQ hands the grid's search. Same byte layout as whole rows.
std::vector<uint8_t> encoder_bytes_per_span(GgmlType type, const at::Tensor& w, const at::Tensor& importance,
                                            int64_t span) {
  const int64_t rows = w.size(0), n = w.size(1);
  const at::Tensor imp =
      importance.defined() ? importance.expand({rows, n}).contiguous().reshape({-1, span}) : at::Tensor();
  return encoder_bytes(type, w.contiguous().reshape({-1, span}), imp);
}

at::Tensor decode(GgmlType type, const std::vector<uint8_t>& bytes, int64_t rows, int64_t n) {
  at::Tensor out = at::empty({rows, n}, at::kFloat);
  const uint64_t row_bytes = mp::ggml_row_bytes(type, n);
  for (int64_t r = 0; r < rows; ++r)
    mp::dequantize_row(type, bytes.data() + r * row_bytes, out.data_ptr<float>() + r * n, n);
  return out;
}

// Rounding on the grid: the search on each span of w, then the nearest level of every value.
mp::QuantizedLinear grid_rtn(GgmlType type, const at::Tensor& w, const at::Tensor& importance) {
  const auto grid = std::make_shared<mp::GgufBlockGrid>(type);
  at::Tensor stored;
  const mp::GridParams params = grid->choose_stored(w, importance, stored);
  const at::Tensor g_idx = grid->sequential_groups(w.size(1));
  return {grid->quantize(w, params.for_columns(g_idx)), params.scale, params.zero, g_idx, grid->bind(stored)};
}

// Weights with a few outliers, as trained linears have.
at::Tensor test_weights(int64_t rows, int64_t n) {
  return at::randn({rows, n}) * 0.02 + (at::rand({rows, n}) < 0.01).to(at::kFloat) * at::randn({rows, n}) * 0.2;
}

bool header_first(GgmlType type) { return std::count(std::begin(kHeaderFirst), std::end(kHeaderFirst), type) > 0; }

}  // namespace

TEST_CASE("gguf block grid: the parameters are the type's search; k-quant blocks are the encoder's",
          "[gguf][gptq][gguf_block_grid]") {
  at::manual_seed(11);
  const int64_t rows = 6, n = 512;
  const at::Tensor w = test_weights(rows, n);
  const at::Tensor importance = at::rand({n}) * 4 + 0.01;
  for (GgmlType type : all_types()) {
    INFO(mp::ggml_type_name(type));
    const int64_t span = mp::GgufBlockGrid(type).choose_span();
    for (const at::Tensor& imp : {at::Tensor(), importance}) {
      INFO((imp.defined() ? "with" : "without") << " importance");
      const mp::QuantizedLinear layer = grid_rtn(type, w, imp);
      const std::vector<uint8_t> bytes = mp::pack_block_grid_tensor(layer);
      const std::vector<uint8_t> encoder = encoder_bytes_per_span(type, w, imp, span);
      const at::Tensor solved = layer.dequantize();
      CHECK(at::equal(decode(type, bytes, rows, n), solved));
      if (!header_first(type)) {
        // A k-quant encoder levels with the stored scales too: the very same bytes.
        CHECK(bytes == encoder);
        continue;
      }
      // The legacy and iq4 encoders level with the search's unrounded scale, the grid with the
      // stored one: the same stored parameters, and no value farther from w than the encoder's.
      const auto* grid = dynamic_cast<const mp::GgufBlockGrid*>(layer.grid.get());
      const int64_t header = grid->stored().size(2), blocks = rows * n / span;
      const int64_t block_bytes = static_cast<int64_t>(bytes.size()) / blocks;
      int64_t differing_headers = 0;
      for (int64_t b = 0; b < blocks; ++b)
        differing_headers += !std::equal(bytes.begin() + b * block_bytes, bytes.begin() + b * block_bytes + header,
                                         encoder.begin() + b * block_bytes);
      CHECK(differing_headers == 0);
      const at::Tensor encoder_error = (decode(type, encoder, rows, n) - w).abs();
      CHECK(((solved - w).abs() <= encoder_error).all().item<bool>());
    }
  }
}

TEST_CASE("gguf block grid: GPTQ with an identity Hessian writes the grid's rounding", "[gguf][gptq][gguf_block_grid]") {
  // H = I: no column's error reaches another, so GPTQ is rounding on the grid the search chose
  // (for the k-quants the encoder's own bytes, by the test above).
  at::manual_seed(12);
  const at::Tensor w = test_weights(4, 512);
  for (GgmlType type : all_types()) {
    INFO(mp::ggml_type_name(type));
    for (bool hessian_importance : {false, true}) {
      mp::GptqOptions options;
      options.hessian_importance = hessian_importance;  // diag(H) = 1 then
      const auto result = mp::quantize_gptq(w, at::eye(512), std::make_shared<mp::GgufBlockGrid>(type), options);
      const at::Tensor importance = hessian_importance ? at::ones({512}) : at::Tensor();
      CHECK(mp::pack_block_grid_tensor(result.layer) == mp::pack_block_grid_tensor(grid_rtn(type, w, importance)));
      if (!header_first(type)) CHECK(mp::pack_block_grid_tensor(result.layer) == encoder_bytes(type, w, importance));
    }
  }
}

TEST_CASE("gguf block grid: GPTQ's blocks decode to the weights it measured and beat rounding on the grid",
          "[gguf][gptq][gguf_block_grid]") {
  at::manual_seed(13);
  const int64_t n = 512, rows = 16;
  const at::Tensor mixing = at::randn({n, n}) / 16 + at::eye(n);
  const at::Tensor x = at::matmul(at::randn({2048, n}), mixing) * (at::rand({n}) * 2 + 0.2);
  mp::HessianAccumulator accumulator(n);
  accumulator.add(x);
  const at::Tensor h = accumulator.matrix();
  const at::Tensor w = test_weights(rows, n);
  // ‖(W − Ŵ)X‖², the Hessian-weighted error tr((W − Ŵ) H (W − Ŵ)ᵀ) up to the factor 2/tokens.
  auto output_error = [&](const at::Tensor& w_hat) {
    return at::matmul(x, (w - w_hat).t()).square().sum().item<double>();
  };
  const at::Tensor importance = h.diagonal().to(at::kFloat).contiguous();
  for (GgmlType type : all_types()) {
    INFO(mp::ggml_type_name(type));
    mp::GptqOptions options;
    options.hessian_importance = true;
    const auto result = mp::quantize_gptq(w, h, std::make_shared<mp::GgufBlockGrid>(type), options);
    const std::vector<uint8_t> bytes = mp::pack_block_grid_tensor(result.layer);
    const at::Tensor solved = result.layer.dequantize();
    CHECK(at::equal(decode(type, bytes, rows, n), solved));
    // Against rounding on the same grid with the same importance, and against the encoder given
    // diag(H) as importance (what llama-quantize --imatrix does).
    const double gptq = output_error(solved), rtn = output_error(grid_rtn(type, w, importance).dequantize());
    const double encoder = output_error(decode(type, encoder_bytes(type, w, importance), rows, n));
    INFO("GPTQ / RTN on the grid " << gptq / rtn << ", GPTQ / encoder " << gptq / encoder);
    CHECK(gptq < 0.8 * rtn);
    CHECK(gptq < 0.8 * encoder);
  }
}

TEST_CASE("gguf block grid: act-order is refused on a block grid", "[gguf][gptq][gguf_block_grid]") {
  mp::GptqOptions options;
  options.act_order = true;
  const at::Tensor h = at::diag(at::arange(1, 257, at::kFloat));
  CHECK_THROWS(mp::quantize_gptq(at::randn({2, 256}), h, std::make_shared<mp::GgufBlockGrid>(GgmlType::Q4_K),
                                 options));
}

TEST_CASE("gguf block grid: a file's blocks give back the grid they were written on", "[gguf][qad]") {
  at::manual_seed(14);
  const int64_t rows = 6, n = 512;
  const at::Tensor w = test_weights(rows, n);
  const at::Tensor importance = at::rand({n}) * 4 + 0.01;
  for (mp::GgmlType type : kKQuants) {
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
