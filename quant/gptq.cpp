#include "quant/gptq.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "lib/base/error.h"
#include "lib/base/huge_page_tensor.h"
#include "quant/block_errors.h"
#include "quant/inverse_cholesky.h"
#include "quant/span_grid.h"

namespace mp {
namespace {

struct SolvedColumns {
  at::Tensor codes;                // int32 [columns, rows]: row q holds the q-th processed column
  std::vector<GridParams> chosen;  // groups chosen on the way, in processing order
  std::vector<at::Tensor> stored;  // a SpanGrid's stored forms of them
  double loss = 0;
};

// How each processed column gets its grid parameters: from groups chosen up front (group_of[q]
// indexes `up_front`), or from a group chosen when its first column comes up.
struct GroupPlan {
  const GridParams* up_front;  // null: choose on the way
  const int32_t* group_of;     // the up-front group of every processed column
  int64_t group_size;
  int64_t choose_span;         // columns whose groups one choose() fixes
  at::Tensor importance;       // [columns] in processing order, or undefined
};

// GPTQ's rows are independent given U, and a column's steps (its update from the block's earlier
// columns, quantize, error) are latency-bound: they run on the rows cut into ranges, one per
// thread. A range is whole tiles of 64 rows. The update of one column gives the same bits on any
// rows (quant/block_errors.h); matrix products of several columns do not (rows near a cut round
// differently), so the lazy-batch update and the update before a group is chosen stay one product
// over all rows.
struct RowRange {
  int64_t begin, end;
  at::Tensor column;       // the current column on these rows, updated
  at::Tensor dequantized;  // its ŵ
  // The parameters of the group the last column belonged to, on these rows: a group spans many
  // consecutive columns, so they are cut out once per group rather than per column.
  int64_t params_group = -1;
  GridParams params;
};

// Row q of `matrix` becomes what its row order[q] was, moved in place along the permutation's cycles
// (one spare row). Gathering a transposed view with index_select instead reads one element per cache
// line: act-order's solve paid about 0.35 s more for it on 4096×4096 than for a plain transpose and this.
void permute_rows_in_place(at::Tensor& matrix, const at::Tensor& order) {
  const int64_t rows = matrix.size(0);
  const size_t row_bytes = static_cast<size_t>(matrix.size(1)) * matrix.element_size();
  auto* base = static_cast<char*>(matrix.data_ptr());
  const at::Tensor order_in_memory = order.contiguous();
  const int64_t* from = order_in_memory.data_ptr<int64_t>();
  std::vector<char> spare(row_bytes);
  std::vector<bool> placed(static_cast<size_t>(rows), false);
  for (int64_t start = 0; start < rows; ++start) {
    if (placed[start] || from[start] == start) continue;
    std::memcpy(spare.data(), base + start * row_bytes, row_bytes);
    int64_t q = start;
    for (; from[q] != start; q = from[q]) {
      std::memcpy(base + q * row_bytes, base + from[q] * row_bytes, row_bytes);
      placed[q] = true;
    }
    std::memcpy(base + q * row_bytes, spare.data(), row_bytes);
    placed[q] = true;
  }
}

std::vector<RowRange> row_ranges(int64_t rows) {
  constexpr int64_t kTile = 64;
  const int64_t tiles = (rows + kTile - 1) / kTile;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), tiles));
  std::vector<RowRange> ranges;
  for (int64_t p = 0; p < parts; ++p) {
    const int64_t begin = tiles * p / parts * kTile, end = std::min(rows, tiles * (p + 1) / parts * kTile);
    ranges.push_back({begin, end, at::empty({end - begin}, at::kFloat), at::empty({end - begin}, at::kFloat), -1, {}});
  }
  return ranges;
}

// Steps "lazy batch updates" and "quantize column, spread its error": columns_major [columns, rows]
// holds Wᵀ in processing order and is updated in place. The columns after a block receive its
// errors once the block is done, as one matrix product; inside the block a column receives the
// errors of the block's earlier columns just before it is quantized (one pass over them, rather
// than a rank-1 update of the whole block after every column: fewer, larger operations).
SolvedColumns quantize_columns(at::Tensor& columns_major, const at::Tensor& hinv, const Grid& grid,
                               const GroupPlan& plan, int64_t block_size) {
  const int64_t columns = columns_major.size(0), rows = columns_major.size(1);
  const at::Tensor hinv_diagonal = hinv.diagonal().contiguous();
  const float* d = hinv_diagonal.data_ptr<float>();
  const float* u = hinv.data_ptr<float>();
  const int64_t u_rows = hinv.stride(0), u_columns = hinv.stride(1);
  SolvedColumns solved{empty_on_huge_pages({columns, rows}, at::kInt), {}, {}, 0};
  std::vector<RowRange> ranges = row_ranges(rows);
  const at::Tensor errors_buffer = empty_on_huge_pages({std::min(block_size, columns), rows}, at::kFloat);
  GridParams current;

  for (int64_t i1 = 0; i1 < columns; i1 += block_size) {
    const int64_t i2 = std::min(i1 + block_size, columns), count = i2 - i1;
    const at::Tensor block_errors = errors_buffer.slice(0, 0, count);  // (w − ŵ) / [H⁻¹]_qq
    // Columns [i1 + begin, i1 + end) with the errors of the block's first `done` columns applied.
    auto updated = [&](int64_t done, int64_t begin, int64_t end) {
      const at::Tensor stale = columns_major.slice(0, i1 + begin, i1 + end);
      if (done == 0) return stale;
      return at::addmm(stale, hinv.slice(0, i1, i1 + done).slice(1, i1 + begin, i1 + end).t(),
                       block_errors.slice(0, 0, done), 1.0, -1.0);
    };
    // Columns [i1 + begin, i1 + end), none of which starts a group, on the rows of one range.
    auto quantize_rows = [&](int64_t begin, int64_t end, RowRange& range) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t q = i1 + i;
        const int64_t group = plan.up_front ? plan.group_of[q] : (q % plan.choose_span) / plan.group_size;
        if (group != range.params_group) {
          const GridParams g = (plan.up_front ? *plan.up_front : current).group(group);
          range.params = {g.scale.slice(0, range.begin, range.end).contiguous(),
                          g.zero.slice(0, range.begin, range.end).contiguous()};
          range.params_group = group;
        }
        subtract_block_errors(columns_major.data_ptr<float>() + q * rows + range.begin,
                              block_errors.data_ptr<float>() + range.begin, rows, u + i1 * u_rows + q * u_columns,
                              u_rows, i, range.end - range.begin, range.column.data_ptr<float>());
        at::Tensor column_codes = solved.codes[q].slice(0, range.begin, range.end);
        grid.quantize_column(range.column, range.params, column_codes, range.dequantized);
        const float *w = range.column.data_ptr<float>(), *w_hat = range.dequantized.data_ptr<float>();
        float* error = block_errors.data_ptr<float>() + i * rows + range.begin;
        for (int64_t r = 0; r < range.end - range.begin; ++r) error[r] = (w[r] - w_hat[r]) / d[q];
      }
    };
    for (int64_t i = 0; i < count;) {
      const int64_t q = i1 + i;
      if (!plan.up_front && q % plan.choose_span == 0) {
        // The groups are chosen from fully updated weights, also where they reach past the block
        // (the reference code looks at weights that lack the current block's errors there).
        const int64_t end = std::min(q + plan.choose_span, columns);
        const at::Tensor importance = plan.importance.defined() ? plan.importance.slice(0, q, end) : at::Tensor();
        const at::Tensor span = updated(i, i, end - i1).t();
        if (const auto* span_grid = dynamic_cast<const SpanGrid*>(&grid)) {
          solved.stored.emplace_back();
          current = span_grid->choose_stored(span, importance, solved.stored.back());
        } else {
          current = grid.choose(span, importance);
        }
        solved.chosen.push_back(current);
        for (RowRange& range : ranges) range.params_group = -1;  // `current` holds new groups
      }
      // Up to the next group choice or the block's end, range by range.
      const int64_t next = plan.up_front ? count : std::min(count, (q / plan.choose_span + 1) * plan.choose_span - i1);
      at::parallel_for(0, static_cast<int64_t>(ranges.size()), 1, [&](int64_t first, int64_t last) {
        for (int64_t k = first; k < last; ++k) quantize_rows(i, next, ranges[k]);
      });
      i = next;
    }
    solved.loss += block_errors.square().sum().item<double>() / 2;
    columns_major.slice(0, i2).addmm_(hinv.slice(0, i1, i2).slice(1, i2).t(), block_errors, 1.0, -1.0);
  }
  return solved;
}

}  // namespace

GptqHessian prepare_gptq_hessian(const at::Tensor& h, const GptqOptions& options) {
  if (h.dim() != 2 || h.size(0) != h.size(1)) fail_runtime("GPTQ: the Hessian must be a square matrix");
  if (options.damp <= 0) fail_input("GPTQ options", "block size and damping must be positive");
  const int64_t n = h.size(0);
  GptqHessian result;
  // Dead inputs never fire: their weights cannot matter, so they become 0 and H_ii 1.
  result.dead = h.diagonal() == 0;
  result.dead_columns = result.dead.sum().item<int64_t>();
  // One column-major matrix is all the factorization works in (quant/inverse_cholesky.h): it
  // receives the lower triangle of H, with dead inputs' H_ii = 1 and, for act-order, rows and
  // columns in processing order, and becomes U in place.
  at::Tensor matrix = empty_on_huge_pages({n, n}, h.scalar_type(), /*column_major=*/true);
  auto undamped = [&] {
    if (!result.order.defined()) {
      at::tril_out(matrix, h);
      matrix.diagonal().masked_fill_(result.dead, 1.0);
      // Act-order: columns with the largest H_ii (the most input energy) go first.
      result.order = options.act_order ? std::get<1>(matrix.diagonal().sort(/*dim=*/0, /*descending=*/true))
                                       : at::arange(n, at::kLong);
      if (!options.act_order) return;
    }
    if (options.act_order) {
      // The rows in processing order go to the matrix's memory (read as row-major), then the
      // columns to a second matrix, whose lower triangle the matrix receives.
      at::Tensor rows = matrix.t();
      at::index_select_out(rows, h, 0, result.order);
      at::Tensor permuted = empty_on_huge_pages({n, n}, h.scalar_type());
      at::index_select_out(permuted, rows, 1, result.order);
      at::tril_out(matrix, permuted);
      matrix.diagonal().masked_fill_(result.dead.index_select(0, result.order), 1.0);
    } else {
      at::tril_out(matrix, h);
      matrix.diagonal().masked_fill_(result.dead, 1.0);
    }
  };
  auto finite = [&] {
    const at::Tensor values = matrix.t();  // the same memory, contiguous
    if (matrix.scalar_type() == at::kDouble) {
      const double* v = values.data_ptr<double>();
      return std::all_of(v, v + n * n, [](double x) { return std::isfinite(x); });
    }
    const float* v = values.data_ptr<float>();
    return std::all_of(v, v + n * n, [](float x) { return std::isfinite(x); });
  };

  // Step "Cholesky reformulation": H ← H + λI, then the upper Cholesky factor of H⁻¹. λ starts at
  // damp · mean(diag H) and grows ×10 while either factorization fails; a retry rebuilds H + λI
  // from h rather than keeping a copy of the undamped matrix.
  undamped();
  result.diagonal = matrix.diagonal().to(at::kFloat).contiguous();
  const double mean_diagonal = matrix.diagonal().mean().item<double>();
  result.damp_used = options.damp;
  for (bool first = true; result.damp_used <= options.max_damp; first = false) {
    if (!first) undamped();
    matrix.diagonal().add_(result.damp_used * mean_diagonal);
    if (upper_cholesky_of_inverse_in_place(matrix) && finite()) {
      result.upper = matrix.to(at::kFloat);
      return result;
    }
    result.damp_used *= 10;
    ++result.damp_raises;
  }
  fail_runtime("GPTQ: Hessian not positive definite even with damping " + std::to_string(options.max_damp) +
               " of its mean diagonal");
}

GptqResult quantize_gptq(const at::Tensor& w, const at::Tensor& h, std::shared_ptr<const Grid> grid,
                         const GptqOptions& options) {
  if (w.dim() != 2 || h.dim() != 2 || h.size(0) != w.size(1) || h.size(1) != w.size(1))
    fail_runtime("GPTQ: weight [out, in] and Hessian [in, in] do not match");
  return quantize_gptq(w, prepare_gptq_hessian(h, options), std::move(grid), options);
}

GptqResult quantize_gptq(const at::Tensor& w, const GptqHessian& hessian, std::shared_ptr<const Grid> grid,
                         const GptqOptions& options) {
  if (w.dim() != 2 || hessian.upper.size(0) != w.size(1))
    fail_runtime("GPTQ: weight [out, in] and Hessian [in, in] do not match");
  if (options.block_size < 1 || options.damp <= 0)
    fail_input("GPTQ options", "block size and damping must be positive");
  const int64_t columns = w.size(1);
  GptqResult result;
  result.dead_columns = hessian.dead_columns;
  result.damp_used = hessian.damp_used;
  result.damp_raises = hessian.damp_raises;
  at::Tensor weight = w.to(at::kFloat);
  if (hessian.dead_columns > 0) weight = weight.masked_fill(hessian.dead.unsqueeze(0), 0.0);

  // Per-channel and static groups are chosen from the whole unmodified W; otherwise each group is
  // chosen from the already-updated weights when its first column comes up.
  const bool groups_up_front = options.static_groups || grid->group_size() == -1;
  const at::Tensor column_groups = grid->sequential_groups(columns);
  GridParams up_front;
  if (groups_up_front) up_front = grid->choose(weight);

  // Transposed, so every input column is one contiguous row and updates run along it. The order
  // is the Hessian's, whatever `options` says.
  const at::Tensor& order = hessian.order;
  const bool permuted = !at::equal(order, at::arange(columns, at::kLong));
  const auto* span_grid = dynamic_cast<const SpanGrid*>(grid.get());
  if (span_grid && (permuted || groups_up_front))
    fail_input("GPTQ options", "act-order and static groups cannot run on a grid whose parameters span several "
                               "groups (ggml blocks)");
  const int64_t rows = weight.size(0);
  at::Tensor columns_major = empty_on_huge_pages({columns, rows}, at::kFloat);
  columns_major.copy_(weight.t());
  if (permuted) permute_rows_in_place(columns_major, order);
  weight = at::Tensor();
  const at::Tensor processed_groups = column_groups.index_select(0, order).contiguous();
  const int64_t group_size = grid->group_size() == -1 ? columns : grid->group_size();
  const GroupPlan plan{groups_up_front ? &up_front : nullptr, processed_groups.data_ptr<int32_t>(), group_size,
                       span_grid ? span_grid->choose_span() : group_size,
                       options.hessian_importance ? hessian.diagonal : at::Tensor()};
  SolvedColumns solved = quantize_columns(columns_major, hessian.upper, *grid, plan, options.block_size);
  columns_major = at::Tensor();
  result.loss = solved.loss;

  const at::Tensor inverse_order = at::argsort(order);
  at::Tensor g_idx = column_groups;
  GridParams params = up_front;
  if (!groups_up_front) {
    params = concat_groups(solved.chosen);
    // Groups were formed along the processing order; map each original column to its group.
    g_idx = column_groups.index_select(0, inverse_order);
  }
  if (permuted) permute_rows_in_place(solved.codes, inverse_order);
  at::Tensor codes = empty_on_huge_pages({rows, columns}, at::kInt);
  codes.copy_(solved.codes.t());
  solved.codes = at::Tensor();
  if (span_grid) grid = span_grid->bind(at::cat(solved.stored, 1));
  result.layer = {codes, params.scale, params.zero, g_idx, std::move(grid)};
  return result;
}

}  // namespace mp
