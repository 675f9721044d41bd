// GPTQ's speed-ups that must not change a bit: the factorization in one buffer through LAPACK
// against LibTorch's operators, the solve split into row ranges (one per thread) against one
// range, and the in-batch column update against its definition. Equality is exact (at::equal, ==),
// not within a tolerance.
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "formats/gguf_block_grid.h"
#include "lib/base/huge_page_tensor.h"
#include "quant/affine_grid.h"
#include "quant/block_errors.h"
#include "quant/gptq.h"
#include "quant/hessian.h"
#include "quant/inverse_cholesky.h"

namespace {

// H = 2XᵀX/n of correlated inputs, with a few inputs that never fire.
at::Tensor correlated_hessian(int64_t features, at::ScalarType dtype = at::kFloat) {
  const at::Tensor mixing = at::randn({features, features}) / std::sqrt(double(features));
  at::Tensor x = at::matmul(at::randn({2 * features, features}), mixing + at::eye(features) * 0.1) *
                 (at::rand({features}) * 3 + 0.1);
  x.select(1, 3).zero_();
  mp::HessianAccumulator accumulator(features, dtype);
  accumulator.add(x);
  return accumulator.matrix();
}

// The solve on 1 thread (one row range) and on 3 (three ranges of whole 64-row tiles; on 2 cores
// the threads take turns, which changes nothing but the time). Same factored Hessian for both.
std::pair<mp::GptqResult, mp::GptqResult> solved_on_1_and_3_threads(const at::Tensor& w, const at::Tensor& h,
                                                                      std::shared_ptr<const mp::Grid> grid,
                                                                      const mp::GptqOptions& options) {
  const int threads = at::get_num_threads();
  const mp::GptqHessian factored = mp::prepare_gptq_hessian(h, options);
  at::set_num_threads(1);
  mp::GptqResult one = mp::quantize_gptq(w, factored, grid, options);
  at::set_num_threads(3);
  mp::GptqResult three = mp::quantize_gptq(w, factored, grid, options);
  at::set_num_threads(threads);
  return {std::move(one), std::move(three)};
}

void require_same(const mp::GptqResult& a, const mp::GptqResult& b) {
  REQUIRE(at::equal(a.layer.codes, b.layer.codes));
  REQUIRE(at::equal(a.layer.scales, b.layer.scales));
  REQUIRE(at::equal(a.layer.zeros, b.layer.zeros));
  REQUIRE(at::equal(a.layer.g_idx, b.layer.g_idx));
  REQUIRE(a.loss == b.loss);
}

}  // namespace

TEST_CASE("The in-place factorization gives LibTorch's U bit for bit", "[gptq][same_bytes]") {
  at::manual_seed(11);
  for (const at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    for (const int64_t n : {37, 300, 700}) {  // unblocked, and blocked with ragged edges in LAPACK
      at::Tensor h = correlated_hessian(n, dtype);
      h.diagonal().add_(0.01 * h.diagonal().mean().item<double>() + 1e-3);
      h = h + at::ones_like(h).triu(1);  // garbage above the diagonal: only the lower triangle is read
      const at::Tensor expected = mp::upper_cholesky_of_inverse_aten(h);
      REQUIRE(expected.defined());
      at::Tensor in_place = mp::empty_on_huge_pages({n, n}, dtype, /*column_major=*/true);
      in_place.copy_(h);
      REQUIRE(mp::upper_cholesky_of_inverse_in_place(in_place));
      REQUIRE(at::equal(in_place, expected));
      REQUIRE(at::equal(in_place, in_place.triu()));
    }
  }
  // Not positive definite: both routes say so.
  at::Tensor indefinite = at::eye(40, at::kFloat);
  indefinite[20][20] = -1.0;
  REQUIRE_FALSE(mp::upper_cholesky_of_inverse_aten(indefinite).defined());
  at::Tensor buffer = mp::empty_on_huge_pages({40, 40}, at::kFloat, /*column_major=*/true);
  buffer.copy_(indefinite);
  REQUIRE_FALSE(mp::upper_cholesky_of_inverse_in_place(buffer));
}

TEST_CASE("GPTQ's solve gives the same bytes in one row range or several", "[gptq][same_bytes]") {
  at::manual_seed(12);
  const int64_t rows = 200, columns = 384;  // 4 row tiles, the last one ragged
  const at::Tensor h = correlated_hessian(columns);
  const at::Tensor w = at::randn({rows, columns}) * 0.02;
  mp::AffineGridOptions grid;
  grid.group_size = 32;
  mp::GptqOptions options;
  options.block_size = 48;  // groups start inside blocks and reach past them

  SECTION("groups chosen on the way") {
    auto [one, three] = solved_on_1_and_3_threads(w, h, std::make_shared<mp::AffineGrid>(grid), options);
    require_same(one, three);
  }
  SECTION("act-order, symmetric") {
    grid.sym = true;
    options.act_order = true;
    auto [one, three] = solved_on_1_and_3_threads(w, h, std::make_shared<mp::AffineGrid>(grid), options);
    require_same(one, three);
  }
  SECTION("static groups, MSE range search") {
    grid.search = mp::RangeSearch::mse;
    options.static_groups = true;
    options.act_order = true;
    auto [one, three] = solved_on_1_and_3_threads(w, h, std::make_shared<mp::AffineGrid>(grid), options);
    require_same(one, three);
  }
  SECTION("MSE range search on the way, per channel") {
    grid.search = mp::RangeSearch::mse;
    auto [one, three] = solved_on_1_and_3_threads(w, h, std::make_shared<mp::AffineGrid>(grid), options);
    require_same(one, three);
    grid.group_size = -1;
    auto [one_row, three_rows] = solved_on_1_and_3_threads(w, h, std::make_shared<mp::AffineGrid>(grid), options);
    require_same(one_row, three_rows);
  }
}

TEST_CASE("GPTQ on ggml blocks gives the same bytes in one row range or several", "[gptq][same_bytes]") {
  at::manual_seed(13);
  // 3 row tiles; the loss's sum stays under one ATen reduction grain (its partial sums follow the
  // thread count, as they did before the row ranges)
  const int64_t rows = 192, columns = 512;
  const at::Tensor h = correlated_hessian(columns);
  const at::Tensor w = at::randn({rows, columns}) * 0.02;
  mp::GptqOptions options;
  options.hessian_importance = true;
  for (const mp::GgmlType type : {mp::GgmlType::Q4_K, mp::GgmlType::Q6_K}) {
    auto [one, three] = solved_on_1_and_3_threads(w, h, std::make_shared<mp::GgufBlockGrid>(type), options);
    require_same(one, three);
    const auto* a = dynamic_cast<const mp::SpanGrid*>(one.layer.grid.get());
    const auto* b = dynamic_cast<const mp::SpanGrid*>(three.layer.grid.get());
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    REQUIRE(at::equal(a->stored(), b->stored()));
  }
}

TEST_CASE("The in-batch column update is its sum of FMAs in order, bit for bit, on any rows", "[gptq][same_bytes]") {
  at::manual_seed(5);
  const int64_t stride = 2100;
  const at::Tensor errors = at::randn({127, stride});
  const at::Tensor u = at::randn({160, 160}).t();  // column-major, as the factorization leaves U
  const float* e = errors.data_ptr<float>();
  const float* u_column = u.data_ptr<float>() + 3 * u.stride(0) + 150 * u.stride(1);  // U[3.., 150]
  for (const int64_t rows : {1, 7, 8, 63, 64, 65, 200, 2053}) {
    const at::Tensor stale = at::randn({rows});
    for (const int64_t count : {0, 1, 2, 17, 127}) {
      std::vector<float> out(rows), expected(rows);
      mp::subtract_block_errors(stale.data_ptr<float>(), e, stride, u_column, u.stride(0), count, rows, out.data());
      double worst = 0;
      for (int64_t r = 0; r < rows; ++r) {
        float sum = 0;
        double exact = 0;
        for (int64_t k = 0; k < count; ++k) {
          sum = std::fma(u_column[k * u.stride(0)], e[k * stride + r], sum);
          exact += double(u_column[k * u.stride(0)]) * e[k * stride + r];
        }
        expected[r] = stale.data_ptr<float>()[r] - sum;
        worst = std::max(worst, std::abs(out[r] - (stale.data_ptr<float>()[r] - exact)));
      }
      INFO("rows " << rows << ", count " << count);
      REQUIRE(out == expected);
      REQUIRE(worst < 1e-4);  // and it is the sum it claims: |terms| ~ 1, 127 of them, f32
    }
  }
}
