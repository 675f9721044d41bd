#include "quant/affine_grid.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "lib/base/error.h"

namespace mp {

AffineGrid::AffineGrid(const AffineGridOptions& options) : options_(options) {
  if (options.bits < 2 || options.bits > 8)
    fail_input("grid", "bits must be between 2 and 8, got " + std::to_string(options.bits));
  if (options.group_size == 0 || options.group_size < -1)
    fail_input("grid",
               "group size must be positive or -1, got " + std::to_string(options.group_size));
  if (options.search == RangeSearch::mse &&
      (options.mse_steps < 1 || options.mse_max_shrink <= 0 || options.mse_max_shrink >= 1))
    fail_input("grid", "MSE search needs steps >= 1 and a max shrink in (0, 1)");
}

namespace {

// Each (row, group)'s min and max of w [rows, span] f32, groups of `size` columns from the first
// (the last ragged): [rows, groups] each; as at::min/max, a NaN in the group wins. One pass over w
// in its memory order (GPTQ hands in a transposed view, RTN and AWQ row-major matrices), the rows
// split across threads.
std::pair<at::Tensor, at::Tensor> group_min_max(const at::Tensor& w, int64_t size) {
  const int64_t rows = w.size(0), span = w.size(1), groups = (span + size - 1) / size;
  const float* x = w.data_ptr<float>();
  const int64_t row_stride = w.stride(0), column_stride = w.stride(1);
  // Kept [groups, rows] when w is column-major, so the inner loop runs along memory in both.
  const bool column_major = row_stride == 1 && span > 1;
  const std::vector<int64_t> shape = column_major ? std::vector<int64_t>{groups, rows} : std::vector<int64_t>{rows, groups};
  at::Tensor low = at::full(shape, std::numeric_limits<float>::infinity());
  at::Tensor high = at::full(shape, -std::numeric_limits<float>::infinity());
  float *lo = low.data_ptr<float>(), *hi = high.data_ptr<float>();
  // A NaN is taken and then kept: no comparison with it is true.
  auto take = [](float v, float& l, float& h) {
    l = v < l || v != v ? v : l;
    h = v > h || v != v ? v : h;
  };
  at::parallel_for(0, rows, 256, [&](int64_t first, int64_t last) {
    if (column_major) {
      for (int64_t c = 0; c < span; ++c) {
        const float* column = x + c * column_stride;
        const int64_t at = c / size * rows;
        for (int64_t r = first; r < last; ++r) take(column[r], lo[at + r], hi[at + r]);
      }
    } else {
      for (int64_t r = first; r < last; ++r)
        for (int64_t c = 0; c < span; ++c) {
          const int64_t at = r * groups + c / size;
          take(x[r * row_stride + c * column_stride], lo[at], hi[at]);
        }
    }
  });
  return column_major ? std::pair{low.t().contiguous(), high.t().contiguous()} : std::pair{low, high};
}

}  // namespace

GridParams AffineGrid::choose(const at::Tensor& w, const at::Tensor& importance) const {
  const int64_t rows = w.size(0), span = w.size(1);
  const int64_t size = group_size() == -1 ? span : group_size();
  const int64_t full_groups = span / size, full_columns = full_groups * size;
  const at::Tensor weights = w.to(at::kFloat);
  auto [low, high] = group_min_max(weights, size);
  // The range always includes 0, so a zero weight stays exactly zero.
  low = at::clamp_max(low, 0.0);
  high = at::clamp_min(high, 0.0);
  if (symmetric()) {
    high = at::maximum(high, -low);
    low = -high;
  }
  // An all-zero group still needs a usable scale.
  const at::Tensor empty = low == high;
  low = at::where(empty, at::full_like(low, -1.0), low);
  high = at::where(empty, at::full_like(high, 1.0), high);
  if (options_.search == RangeSearch::min_max) return params_for_range(low, high);

  const at::Tensor cost =
      importance.defined() ? importance.to(at::kFloat).expand({rows, span}) : at::Tensor();
  auto columns = [](const at::Tensor& t, int64_t begin, int64_t end) {
    return t.defined() ? t.slice(1, begin, end) : t;
  };
  std::vector<GridParams> parts;
  if (full_groups > 0) {
    // Every full group becomes one row, so all of them are searched at once.
    auto as_group_rows = [&](const at::Tensor& t) {
      return t.defined() ? t.slice(1, 0, full_columns).reshape({rows * full_groups, size}) : t;
    };
    auto one_per_row = [&](const at::Tensor& t) { return t.slice(1, 0, full_groups).reshape({rows * full_groups, 1}); };
    GridParams params = search_range(as_group_rows(weights), as_group_rows(cost), one_per_row(low), one_per_row(high));
    parts.push_back(
        {params.scale.view({rows, full_groups}), params.zero.view({rows, full_groups})});
  }
  if (full_columns < span)
    parts.push_back(search_range(columns(weights, full_columns, span), columns(cost, full_columns, span),
                                 low.slice(1, full_groups), high.slice(1, full_groups)));
  return parts.size() == 1 ? parts.front() : concat_groups(parts);
}

GridParams AffineGrid::search_range(const at::Tensor& w, const at::Tensor& importance, const at::Tensor& low,
                                    const at::Tensor& high) const {
  GridParams best = params_for_range(low, high);
  at::Tensor best_error = group_error(w, best, importance);
  const int shrink_steps = static_cast<int>(options_.mse_max_shrink * options_.mse_steps);
  for (int i = 1; i < shrink_steps; ++i) {
    const double shrink = 1.0 - static_cast<double>(i) / options_.mse_steps;
    GridParams candidate = params_for_range(low * shrink, high * shrink);
    at::Tensor error = group_error(w, candidate, importance);
    const at::Tensor better = error < best_error;
    best.scale = at::where(better, candidate.scale, best.scale);
    best.zero = at::where(better, candidate.zero, best.zero);
    best_error = at::where(better, error, best_error);
  }
  return best;
}

GridParams AffineGrid::params_for_range(const at::Tensor& low, const at::Tensor& high) const {
  const double max_code = static_cast<double>(this->max_code());
  // The smallest positive fp16 subnormal: a scale that survives rounding to the storage type.
  at::Tensor scale = at::clamp_min((high - low) / max_code, 5.9604645e-8);
  if (options_.scale_type != at::kFloat) scale = scale.to(options_.scale_type).to(at::kFloat);
  at::Tensor zero = symmetric() ? at::full_like(scale, static_cast<double>(int64_t{1} << (bits() - 1)))
                          : at::clamp(at::round(-low / scale), 0.0, max_code);
  return {scale, zero};
}

at::Tensor AffineGrid::quantize(const at::Tensor& w, const GridParams& params) const {
  return at::clamp(at::round(w / params.scale) + params.zero, 0.0, static_cast<double>(max_code()))
      .to(at::kInt);
}

at::Tensor AffineGrid::dequantize(const at::Tensor& codes, const GridParams& params) const {
  return params.scale * (codes.to(at::kFloat) - params.zero);
}

namespace {

// at::round's result (ties to even) without a libm call per value: adding and subtracting 1.5·2²³
// leaves |t| < 2²² rounded to an integer in the default rounding mode.
float round_to_even(float t) {
  constexpr float kShift = 0x1.8p23f;
  return std::fabs(t) < 0x1p22f ? (t + kShift) - kShift : std::nearbyint(t);
}

}  // namespace

// One loop doing quantize() and dequantize()'s operations in their order, each rounded to f32 as
// theirs are (no fused multiply-add here: x86-64 without -mfma), so the results are bit for bit theirs.
void AffineGrid::quantize_column(const at::Tensor& w, const GridParams& params, at::Tensor& codes,
                                 at::Tensor& values) const {
  const int64_t rows = w.size(0);
  // GPTQ passes f32 parameters cut to its rows: then nothing is dispatched to LibTorch per column.
  auto column_of = [rows](const at::Tensor& t) {
    return t.scalar_type() == at::kFloat && t.is_contiguous() && t.numel() == rows
               ? t
               : t.to(at::kFloat).reshape({rows}).contiguous();
  };
  const at::Tensor scale = column_of(params.scale), zero = column_of(params.zero);
  const float *x = w.data_ptr<float>(), *s = scale.data_ptr<float>(), *z = zero.data_ptr<float>();
  int32_t* q = codes.data_ptr<int32_t>();
  float* v = values.data_ptr<float>();
  const float max_code_f = static_cast<float>(max_code());
  for (int64_t r = 0; r < rows; ++r) {
    const float level = round_to_even(x[r] / s[r]) + z[r];
    q[r] = static_cast<int32_t>(std::min(std::max(level, 0.0f), max_code_f));
    v[r] = s[r] * (static_cast<float>(q[r]) - z[r]);
  }
}

at::Tensor AffineGrid::group_error(const at::Tensor& w, const GridParams& params,
                                   const at::Tensor& importance) const {
  at::Tensor error = (dequantize(quantize(w, params), params) - w).abs_().pow_(options_.mse_norm);
  if (importance.defined()) error.mul_(importance);
  return error.sum(1, /*keepdim=*/true);
}

}  // namespace mp
