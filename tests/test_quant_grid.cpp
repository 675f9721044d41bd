// The affine grid and round-to-nearest against slow, element-by-element references.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "lib/base/error.h"
#include "quant/affine_grid.h"
#include "quant/rtn.h"

namespace {

std::shared_ptr<mp::AffineGrid> make_grid(int bits, int64_t group_size, bool sym,
                                          mp::RangeSearch search = mp::RangeSearch::min_max) {
  mp::AffineGridOptions options;
  options.bits = bits;
  options.group_size = group_size;
  options.sym = sym;
  options.search = search;
  return std::make_shared<mp::AffineGrid>(options);
}

float to_fp16(float x) { return static_cast<float>(c10::Half(x)); }

// Min-max parameters of one group, straight from the definition.
struct Reference {
  float scale, zero;
};
Reference reference_params(const at::Tensor& group, int bits, bool sym) {
  const float max_code = static_cast<float>((1 << bits) - 1);
  float low = 0, high = 0;
  for (int64_t i = 0; i < group.numel(); ++i) {
    low = std::min(low, group[i].item<float>());
    high = std::max(high, group[i].item<float>());
  }
  if (sym) {
    high = std::max(high, -low);
    low = -high;
  }
  const float scale = to_fp16((high - low) / max_code);
  const float zero = sym ? static_cast<float>(1 << (bits - 1)) : std::nearbyint(-low / scale);
  return {scale, zero};
}

// Checks every code and every dequantized weight of an RTN layer against the reference.
void check_against_reference(const at::Tensor& w, const mp::QuantizedLinear& layer, int bits,
                             int64_t group_size, bool sym) {
  const int64_t rows = w.size(0), columns = w.size(1);
  const int64_t size = group_size == -1 ? columns : group_size;
  const int max_code = (1 << bits) - 1;
  const at::Tensor dequantized = layer.dequantize();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t begin = 0; begin < columns; begin += size) {
      const int64_t g = begin / size, end = std::min(begin + size, columns);
      const Reference ref = reference_params(w[r].slice(0, begin, end), bits, sym);
      REQUIRE(layer.scales[r][g].item<float>() == ref.scale);
      REQUIRE(layer.zeros[r][g].item<float>() == ref.zero);
      for (int64_t c = begin; c < end; ++c) {
        REQUIRE(layer.g_idx[c].item<int>() == g);
        const float code = std::clamp(std::nearbyint(w[r][c].item<float>() / ref.scale) + ref.zero,
                                      0.0f, static_cast<float>(max_code));
        REQUIRE(layer.codes[r][c].item<int>() == static_cast<int>(code));
        REQUIRE(dequantized[r][c].item<float>() == ref.scale * (code - ref.zero));
      }
    }
}

}  // namespace

TEST_CASE("RTN with a ragged last group matches the reference", "[quant]") {
  at::manual_seed(10);
  const at::Tensor w = at::randn({6, 100});
  for (bool sym : {false, true}) {
    const mp::QuantizedLinear layer = mp::quantize_rtn(w, make_grid(4, 32, sym));
    REQUIRE(layer.groups() == 4);  // 32 + 32 + 32 + 4
    check_against_reference(w, layer, 4, 32, sym);
  }
}

TEST_CASE("RTN per channel (group -1) matches the reference for 2, 3 and 8 bits", "[quant]") {
  at::manual_seed(11);
  const at::Tensor w = at::randn({5, 48});
  for (int bits : {2, 3, 8}) {
    const mp::QuantizedLinear layer = mp::quantize_rtn(w, make_grid(bits, -1, false));
    REQUIRE(layer.groups() == 1);
    check_against_reference(w, layer, bits, -1, false);
  }
}

TEST_CASE("grid ranges: symmetric centres the codes, asymmetric covers the group", "[quant]") {
  at::manual_seed(12);
  // Skewed weights: all in [1, 2].
  const at::Tensor w = at::rand({8, 64}) + 1;
  const mp::QuantizedLinear sym = mp::quantize_rtn(w, make_grid(4, 16, true));
  const mp::QuantizedLinear asym = mp::quantize_rtn(w, make_grid(4, 16, false));
  CHECK(sym.sym());
  CHECK_FALSE(asym.sym());
  CHECK(at::equal(sym.zeros, at::full_like(sym.zeros, 8)));
  // Without clipping every weight is within one step of its code (half a step of rounding plus at
  // most half a step from rounding the zero point).
  const at::Tensor step = asym.scales.index_select(1, asym.g_idx.to(at::kLong));
  CHECK(((asym.dequantize() - w).abs() <= step * 1.001).all().item<bool>());
  CHECK(asym.codes.min().item<int>() >= 0);
  CHECK(asym.codes.max().item<int>() == 15);
  // The symmetric grid spends half its codes on negative values these weights never take.
  const double sym_error = (sym.dequantize() - w).square().sum().item<double>();
  const double asym_error = (asym.dequantize() - w).square().sum().item<double>();
  CHECK(asym_error < 0.5 * sym_error);
}

TEST_CASE("grid keeps zero exact and survives all-zero groups", "[quant]") {
  at::Tensor w = at::randn({4, 32});
  w.slice(1, 0, 16).zero_();
  w[1][20] = 0;
  const mp::QuantizedLinear layer = mp::quantize_rtn(w, make_grid(3, 16, false));
  const at::Tensor dequantized = layer.dequantize();
  CHECK(at::equal(dequantized.slice(1, 0, 16), at::zeros({4, 16})));
  CHECK(dequantized[1][20].item<float>() == 0);
  CHECK(layer.scales.isfinite().all().item<bool>());
}

TEST_CASE("MSE range search is never worse than min-max on its own error", "[quant]") {
  at::manual_seed(13);
  at::Tensor w = at::randn({16, 256});
  w.index_put_({at::randint(0, 16, {20}, at::kLong), at::randint(0, 256, {20}, at::kLong)},
               at::randn({20}) * 8);  // outliers that make clipping pay off
  const at::Tensor importance = at::rand({256}) + 0.1;
  for (bool sym : {false, true})
    for (int bits : {2, 4}) {
      CAPTURE(sym, bits);
      const auto min_max = make_grid(bits, 64, sym);
      const auto mse = make_grid(bits, 64, sym, mp::RangeSearch::mse);
      const mp::QuantizedLinear plain = mp::quantize_rtn(w, min_max, importance);
      const mp::QuantizedLinear searched = mp::quantize_rtn(w, mse, importance);
      double plain_total = 0, searched_total = 0;
      for (int64_t g = 0; g < 4; ++g) {
        const at::Tensor group = w.slice(1, g * 64, (g + 1) * 64);
        const at::Tensor cost = importance.slice(0, g * 64, (g + 1) * 64);
        const at::Tensor plain_error = mse->group_error(group, plain.params().group(g), cost);
        const at::Tensor searched_error = mse->group_error(group, searched.params().group(g), cost);
        CHECK((searched_error <= plain_error * (1 + 1e-6)).all().item<bool>());
        plain_total += plain_error.sum().item<double>();
        searched_total += searched_error.sum().item<double>();
      }
      CHECK(searched_total < plain_total);
    }
}

TEST_CASE("scales are rounded to fp16 unless asked for f32", "[quant]") {
  at::manual_seed(14);
  const at::Tensor w = at::randn({4, 64});
  const mp::QuantizedLinear half = mp::quantize_rtn(w, make_grid(4, 32, false));
  CHECK(at::equal(half.scales.to(at::kHalf).to(at::kFloat), half.scales));

  mp::AffineGridOptions options;
  options.scale_type = at::kFloat;
  const mp::QuantizedLinear full = mp::quantize_rtn(w, std::make_shared<mp::AffineGrid>(options));
  CHECK_FALSE(at::equal(full.scales.to(at::kHalf).to(at::kFloat), full.scales));
}

TEST_CASE("grid options are validated", "[quant]") {
  mp::AffineGridOptions options;
  options.bits = 9;
  CHECK_THROWS_AS(mp::AffineGrid(options), mp::Error);
  options.bits = 4;
  options.group_size = 0;
  CHECK_THROWS_AS(mp::AffineGrid(options), mp::Error);
}

TEST_CASE("quantize_column gives quantize() and dequantize()'s numbers bit for bit", "[quant]") {
  at::manual_seed(3);
  for (bool sym : {false, true}) {
    for (int bits : {2, 4, 8}) {
      INFO("bits " << bits << (sym ? " sym" : " asym"));
      mp::AffineGridOptions options;
      options.bits = bits;
      options.sym = sym;
      options.group_size = -1;
      const mp::AffineGrid grid(options);
      const at::Tensor w = at::randn({4096, 16});
      const mp::GridParams params = grid.choose(w);
      // Column 0 as chosen; column 1 scaled up so codes clamp; column 2 on exact half-steps (ties).
      const at::Tensor ties = (at::randint(-40, 40, {4096}) + 0.5) * params.scale.squeeze(1);
      for (const at::Tensor& column : {w.select(1, 0).contiguous(), (w.select(1, 1) * 50).contiguous(), ties}) {
        at::Tensor codes = at::empty({4096}, at::kInt), values = at::empty({4096}, at::kFloat);
        grid.quantize_column(column, params, codes, values);
        const at::Tensor expected_codes = grid.quantize(column.unsqueeze(1), params).squeeze(1);
        CHECK(at::equal(codes, expected_codes));
        CHECK(at::equal(values, grid.dequantize(expected_codes.unsqueeze(1), params).squeeze(1)));
      }
    }
  }
}

TEST_CASE("grid ranges of a transposed view (GPTQ's spans) match the reference, and a NaN spoils only its group",
          "[quant]") {
  at::manual_seed(12);
  const at::Tensor rows_major = at::randn({300, 70});
  const at::Tensor transposed_view = rows_major.t().contiguous().t();  // same values, column-major memory
  REQUIRE(transposed_view.stride(0) == 1);
  for (bool sym : {false, true}) {
    const auto grid = make_grid(4, 32, sym);
    const mp::GridParams a = grid->choose(rows_major), b = grid->choose(transposed_view);
    REQUIRE(a.groups() == 3);  // 32 + 32 + 6
    REQUIRE(at::equal(a.scale, b.scale));
    REQUIRE(at::equal(a.zero, b.zero));
    for (int64_t r : {0, 149, 299})
      for (int64_t g = 0; g < 3; ++g) {
        const Reference ref = reference_params(rows_major[r].slice(0, g * 32, std::min<int64_t>(g * 32 + 32, 70)), 4, sym);
        REQUIRE(b.scale[r][g].item<float>() == ref.scale);
        REQUIRE(b.zero[r][g].item<float>() == ref.zero);
      }
  }
  at::Tensor with_nan = transposed_view.clone();
  with_nan[5][40] = std::numeric_limits<float>::quiet_NaN();
  const mp::GridParams p = make_grid(4, 32, false)->choose(with_nan);
  CHECK(std::isnan(p.scale[5][1].item<float>()));
  CHECK(at::isnan(p.scale).sum().item<int64_t>() == 1);
}
