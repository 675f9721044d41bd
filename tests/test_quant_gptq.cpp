// The GPTQ Hessian and solver on small layers.
#include <catch2/catch.hpp>

#include "lib/base/error.h"
#include "quant/affine_grid.h"
#include "quant/gptq.h"
#include "quant/hessian.h"
#include "quant/rtn.h"

namespace {

std::shared_ptr<mp::AffineGrid> make_grid(int bits, int64_t group_size, bool sym = false) {
  mp::AffineGridOptions options;
  options.bits = bits;
  options.group_size = group_size;
  options.sym = sym;
  return std::make_shared<mp::AffineGrid>(options);
}

// Calibration inputs whose features are strongly correlated, as real activations are.
at::Tensor correlated_inputs(int64_t tokens, int64_t features) {
  const at::Tensor mixing = at::randn({features, features}) / std::sqrt(double(features));
  return at::matmul(at::randn({tokens, features}), mixing + at::eye(features) * 0.1) *
         (at::rand({features}) * 3 + 0.1);
}

at::Tensor hessian_of(const at::Tensor& x) {
  mp::HessianAccumulator accumulator(x.size(1));
  accumulator.add(x);
  return accumulator.matrix();
}

double output_error(const at::Tensor& w, const mp::QuantizedLinear& layer, const at::Tensor& x) {
  return at::matmul(x, (w - layer.dequantize()).t()).square().sum().item<double>();
}

// GPTQ straight from the paper, one column at a time with no blocks, in f64: U is the upper
// Cholesky factor of (H + λI)⁻¹; after column q is quantized, every later column j receives
// −(w_q − ŵ_q) · U_qj / U_qq. Groups are chosen by the grid on the current weights when their first
// column comes up. Returns the dequantized weight in the original column order.
at::Tensor reference_gptq(const at::Tensor& w, const at::Tensor& h, const mp::Grid& grid,
                          bool act_order, double* loss) {
  const int64_t rows = w.size(0), columns = w.size(1), group_size = grid.group_size();
  const at::Tensor order =
      act_order ? std::get<1>(h.diagonal().sort(0, true)) : at::arange(columns, at::kLong);
  at::Tensor hp = h.to(at::kDouble).index_select(0, order).index_select(1, order);
  hp = hp + at::eye(columns, at::kDouble) * (0.01 * hp.diagonal().mean().item<double>());
  const at::Tensor u = at::linalg_cholesky(at::inverse(hp), /*upper=*/true);
  at::Tensor current = w.to(at::kDouble).index_select(1, order);
  at::Tensor result = at::zeros({rows, columns}, at::kDouble);
  mp::GridParams params;
  *loss = 0;
  for (int64_t q = 0; q < columns; ++q) {
    if (q % group_size == 0)
      params = grid.choose(current.slice(1, q, std::min(q + group_size, columns)).to(at::kFloat));
    const at::Tensor column = current.slice(1, q, q + 1).to(at::kFloat);
    const at::Tensor quantized =
        grid.dequantize(grid.quantize(column, params.group(0)), params.group(0));
    for (int64_t r = 0; r < rows; ++r) {
      const double error = current[r][q].item<double>() - quantized[r][0].item<double>();
      result[r][q] = quantized[r][0].item<double>();
      *loss += error * error / (u[q][q].item<double>() * u[q][q].item<double>()) / 2;
      for (int64_t j = q + 1; j < columns; ++j)
        current[r][j] -= error * u[q][j].item<double>() / u[q][q].item<double>();
    }
  }
  return result.index_select(1, at::argsort(order)).to(at::kFloat);
}

}  // namespace

TEST_CASE("Hessian accumulates 2/n Σ x xᵀ over batches in f32 and f64", "[quant]") {
  at::manual_seed(20);
  const at::Tensor x = at::randn({50, 6});
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    mp::HessianAccumulator accumulator(6, dtype);
    accumulator.add(x.slice(0, 0, 7));
    accumulator.add(x.slice(0, 7, 30).reshape({23, 1, 6}));  // leading dims are tokens
    accumulator.add(x.slice(0, 30, 50));
    REQUIRE(accumulator.tokens() == 50);
    REQUIRE(accumulator.matrix().scalar_type() == dtype);
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 6; ++j) {
        double sum = 0;
        for (int64_t t = 0; t < 50; ++t) sum += x[t][i].item<double>() * x[t][j].item<double>();
        CHECK(accumulator.matrix()[i][j].item<double>() == Approx(2 * sum / 50).epsilon(1e-5));
      }
  }
  mp::HessianAccumulator accumulator(6);
  CHECK_THROWS_AS(accumulator.add(at::randn({3, 5})), mp::Error);
}

TEST_CASE("GPTQ with H = identity gives exactly the RTN codes", "[quant]") {
  at::manual_seed(21);
  const at::Tensor w = at::randn({24, 80});
  const at::Tensor h = at::eye(80);
  struct Case {
    int64_t group_size;
    bool act_order, static_groups;
  };
  for (Case c : {Case{32, false, false}, Case{-1, false, false}, Case{16, false, true},
                 Case{16, true, true}, Case{-1, true, false}}) {
    CAPTURE(c.group_size, c.act_order, c.static_groups);
    const auto grid = make_grid(4, c.group_size);
    mp::GptqOptions options;
    options.block_size = 32;  // several blocks, and groups that cross block edges
    options.act_order = c.act_order;
    options.static_groups = c.static_groups;
    const mp::GptqResult result = mp::quantize_gptq(w, h, grid, options);
    const mp::QuantizedLinear rtn = mp::quantize_rtn(w, grid);
    CHECK(at::equal(result.layer.codes, rtn.codes));
    CHECK(at::equal(result.layer.scales, rtn.scales));
    CHECK(at::equal(result.layer.g_idx, rtn.g_idx));
    CHECK(result.damp_raises == 0);
  }
}

TEST_CASE("GPTQ matches an unblocked f64 reference", "[quant]") {
  at::manual_seed(26);
  const at::Tensor x = correlated_inputs(256, 40);
  const at::Tensor w = at::randn({6, 40});
  const at::Tensor h = hessian_of(x);
  const auto grid = make_grid(3, 16);
  for (bool act_order : {false, true}) {
    CAPTURE(act_order);
    mp::GptqOptions options;
    options.block_size = 12;  // blocks that cut groups in the middle
    options.act_order = act_order;
    const mp::GptqResult result = mp::quantize_gptq(w, h, grid, options);
    double reference_loss = 0;
    const at::Tensor reference = reference_gptq(w, h, *grid, act_order, &reference_loss);
    // Blocked f32 and unblocked f64 could round a weight sitting on a tie differently; nothing
    // more.
    const at::Tensor differ = (result.layer.dequantize() - reference).abs() > 1e-5;
    CHECK(differ.sum().item<int64_t>() <= 1);
    CHECK(result.loss == Approx(reference_loss).epsilon(1e-4));
  }
}

TEST_CASE("GPTQ beats RTN on the layer output with correlated inputs", "[quant]") {
  at::manual_seed(22);
  const at::Tensor x = correlated_inputs(2048, 128);
  const at::Tensor w = at::randn({64, 128});
  mp::HessianAccumulator in_f64(128, at::kDouble);
  in_f64.add(x);
  struct Case {
    bool act_order, f64_hessian;
    mp::RangeSearch search;
  };
  for (Case c :
       {Case{false, false, mp::RangeSearch::min_max}, Case{true, false, mp::RangeSearch::min_max},
        Case{false, true, mp::RangeSearch::mse}}) {
    CAPTURE(c.act_order, c.f64_hessian, c.search == mp::RangeSearch::mse);
    mp::AffineGridOptions grid_options;
    grid_options.bits = 3;
    grid_options.group_size = 32;
    grid_options.search = c.search;
    const auto grid = std::make_shared<mp::AffineGrid>(grid_options);
    mp::GptqOptions options;
    options.block_size = 48;
    options.act_order = c.act_order;
    const at::Tensor h = c.f64_hessian ? in_f64.matrix() : hessian_of(x);
    const mp::GptqResult gptq = mp::quantize_gptq(w, h, grid, options);
    const double gptq_error = output_error(w, gptq.layer, x);
    const double rtn_error = output_error(w, mp::quantize_rtn(w, grid), x);
    CHECK(gptq_error < 0.7 * rtn_error);
    CHECK(gptq.loss > 0);
  }
}

TEST_CASE("GPTQ act-order: g_idx groups follow the processing order", "[quant]") {
  at::manual_seed(23);
  const at::Tensor x = correlated_inputs(512, 64);
  const at::Tensor w = at::randn({16, 64});
  const at::Tensor h = hessian_of(x);
  mp::GptqOptions options;
  options.act_order = true;
  options.block_size = 24;
  const mp::GptqResult result = mp::quantize_gptq(w, h, make_grid(4, 16), options);
  const mp::QuantizedLinear& layer = result.layer;

  // Columns sorted by decreasing H_ii fill the groups one after another.
  const at::Tensor order = std::get<1>(h.diagonal().sort(0, true));
  for (int64_t position = 0; position < 64; ++position)
    CHECK(layer.g_idx[order[position].item<int64_t>()].item<int>() == position / 16);
  CHECK(at::equal(at::bincount(layer.g_idx.to(at::kLong)), at::full({4}, 16, at::kLong)));

  const at::Tensor dequantized = layer.dequantize();
  for (int64_t r = 0; r < 16; ++r)
    for (int64_t c = 0; c < 64; ++c) {
      const int64_t g = layer.g_idx[c].item<int>();
      REQUIRE(dequantized[r][c].item<float>() ==
              layer.scales[r][g].item<float>() *
                  (layer.codes[r][c].item<float>() - layer.zeros[r][g].item<float>()));
    }
}

TEST_CASE("GPTQ raises damping when the Cholesky fails, and reports it", "[quant]") {
  at::manual_seed(24);
  const at::Tensor w = at::randn({8, 32});
  // All-ones minus 0.05·I: smallest eigenvalue −0.05, so λ = 0.01·mean(diag) is not enough but
  // 0.1·mean(diag) is.
  const at::Tensor h = at::ones({32, 32}) - at::eye(32) * 0.05;
  const mp::GptqResult result = mp::quantize_gptq(w, h, make_grid(4, 16));
  CHECK(result.damp_raises == 1);
  CHECK(result.damp_used == Approx(0.1));
  CHECK(result.layer.dequantize().isfinite().all().item<bool>());

  CHECK_THROWS_AS(mp::quantize_gptq(w, -at::eye(32), make_grid(4, 16)), mp::Error);
}

TEST_CASE("GPTQ zeroes dead input columns", "[quant]") {
  at::manual_seed(25);
  at::Tensor x = correlated_inputs(256, 32);
  x.select(1, 3).zero_();
  x.select(1, 17).zero_();
  const at::Tensor w = at::randn({8, 32});
  for (bool act_order : {false, true}) {
    mp::GptqOptions options;
    options.act_order = act_order;
    const mp::GptqResult result = mp::quantize_gptq(w, hessian_of(x), make_grid(4, 8), options);
    CHECK(result.dead_columns == 2);
    const at::Tensor dequantized = result.layer.dequantize();
    CHECK(dequantized.isfinite().all().item<bool>());
    CHECK(at::equal(dequantized.select(1, 3), at::zeros({8})));
    CHECK(at::equal(dequantized.select(1, 17), at::zeros({8})));
  }
}
