#include "quant/gptq.h"

#include <ATen/Parallel.h>

#include <tuple>

#include "lib/base/error.h"
#include "quant/span_grid.h"

namespace mp {
namespace {

// The per-column steps touch one column, a few thousand floats: handing them to the thread pool
// costs more in wake-ups than it saves (and, on a busy machine, spinning workers starve the
// thread doing the work), so they run on the calling thread alone.
class SingleThreaded {
 public:
  SingleThreaded() : previous_(at::get_num_threads()) {
    if (previous_ > 1) at::set_num_threads(1);
  }
  ~SingleThreaded() {
    if (previous_ > 1) at::set_num_threads(previous_);
  }
  SingleThreaded(const SingleThreaded&) = delete;
  SingleThreaded& operator=(const SingleThreaded&) = delete;

 private:
  int previous_;
};

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

// Steps "lazy batch updates" and "quantize column, spread its error": columns_major [columns, rows]
// holds Wᵀ in processing order and is updated in place. The columns after a block receive its
// errors once the block is done, as one matrix product; inside the block a column receives the
// errors of the block's earlier columns just before it is quantized (one matrix-vector product,
// rather than a rank-1 update of the whole block after every column: fewer, larger operations).
SolvedColumns quantize_columns(at::Tensor& columns_major, const at::Tensor& hinv, const Grid& grid,
                               const GroupPlan& plan, int64_t block_size) {
  const int64_t columns = columns_major.size(0), rows = columns_major.size(1);
  const at::Tensor hinv_diagonal = hinv.diagonal().contiguous();
  const float* d = hinv_diagonal.data_ptr<float>();
  SolvedColumns solved{at::empty({columns, rows}, at::kInt), {}, {}, 0};
  GridParams current;
  at::Tensor dequantized = at::empty({rows}, at::kFloat);  // the current column's ŵ

  for (int64_t i1 = 0; i1 < columns; i1 += block_size) {
    const int64_t i2 = std::min(i1 + block_size, columns), count = i2 - i1;
    at::Tensor block_errors = at::empty({count, rows}, at::kFloat);  // (w − ŵ) / [H⁻¹]_qq
    // Columns [i1 + begin, i1 + end) with the errors of the block's first `done` columns applied.
    auto updated = [&](int64_t done, int64_t begin, int64_t end) {
      const at::Tensor stale = columns_major.slice(0, i1 + begin, i1 + end);
      if (done == 0) return stale;
      return at::addmm(stale, hinv.slice(0, i1, i1 + done).slice(1, i1 + begin, i1 + end).t(),
                       block_errors.slice(0, 0, done), 1.0, -1.0);
    };
    {
      const SingleThreaded column_steps;
      for (int64_t i = 0; i < count; ++i) {
        const int64_t q = i1 + i;
        if (!plan.up_front && q % plan.choose_span == 0) {
          // The groups are chosen from fully updated weights, also where they reach past the block
          // (the reference code looks at weights that lack the current block's errors there).
          const int64_t end = std::min(q + plan.choose_span, columns);
          const at::Tensor importance =
              plan.importance.defined() ? plan.importance.slice(0, q, end) : at::Tensor();
          const at::Tensor span = updated(i, i, end - i1).t();
          if (const auto* span_grid = dynamic_cast<const SpanGrid*>(&grid)) {
            solved.stored.emplace_back();
            current = span_grid->choose_stored(span, importance, solved.stored.back());
          } else {
            current = grid.choose(span, importance);
          }
          solved.chosen.push_back(current);
        }
        const GridParams params = plan.up_front ? plan.up_front->group(plan.group_of[q])
                                                : current.group((q % plan.choose_span) / plan.group_size);

        const at::Tensor column = updated(i, i, i + 1).squeeze(0).contiguous();
        at::Tensor column_codes = solved.codes[q];
        grid.quantize_column(column, params, column_codes, dequantized);
        const float *w = column.data_ptr<float>(), *w_hat = dequantized.data_ptr<float>();
        float* error = block_errors[i].data_ptr<float>();
        for (int64_t r = 0; r < rows; ++r) error[r] = (w[r] - w_hat[r]) / d[q];
      }
    }
    solved.loss += block_errors.square().sum().item<double>() / 2;
    columns_major.slice(0, i2).addmm_(hinv.slice(0, i1, i2).slice(1, i2).t(), block_errors, 1.0,
                                      -1.0);
  }
  return solved;
}

}  // namespace

GptqHessian prepare_gptq_hessian(const at::Tensor& h, const GptqOptions& options) {
  if (h.dim() != 2 || h.size(0) != h.size(1)) fail_runtime("GPTQ: the Hessian must be a square matrix");
  if (options.damp <= 0) fail_input("GPTQ options", "block size and damping must be positive");
  GptqHessian result;
  // Dead inputs never fire: their weights cannot matter, so they become 0 and H_ii 1.
  result.dead = h.diagonal() == 0;
  result.dead_columns = result.dead.sum().item<int64_t>();
  auto undamped = [&] {
    at::Tensor hessian = h.clone();
    hessian.diagonal().masked_fill_(result.dead, 1.0);
    if (!result.order.defined()) {
      // Act-order: columns with the largest H_ii (the most input energy) go first.
      result.order = options.act_order ? std::get<1>(hessian.diagonal().sort(/*dim=*/0, /*descending=*/true))
                                       : at::arange(h.size(0), at::kLong);
    }
    if (options.act_order) hessian = hessian.index_select(0, result.order).index_select(1, result.order);
    return hessian;
  };

  // Step "Cholesky reformulation": H ← H + λI, then the upper Cholesky factor of H⁻¹. λ starts at
  // damp · mean(diag H) and grows ×10 while either factorization fails. Each matrix is dropped as
  // soon as the next one exists (for down_proj of a 7B model each is 0.5 GB), and a retry rebuilds
  // H + λI from h rather than keeping a copy of the undamped matrix.
  at::Tensor hessian = undamped();
  result.diagonal = hessian.diagonal().to(at::kFloat).contiguous();
  const double mean_diagonal = hessian.diagonal().mean().item<double>();
  result.damp_used = options.damp;
  while (result.damp_used <= options.max_damp) {
    if (!hessian.defined()) hessian = undamped();
    hessian.diagonal().add_(result.damp_used * mean_diagonal);
    at::Tensor lower, info;
    std::tie(lower, info) = at::linalg_cholesky_ex(hessian);
    hessian = at::Tensor();
    if (info.item<int>() == 0) {
      at::Tensor inverse = at::cholesky_inverse(lower);
      lower = at::Tensor();
      at::Tensor upper;
      std::tie(upper, info) = at::linalg_cholesky_ex(inverse, /*upper=*/true);
      inverse = at::Tensor();
      if (info.item<int>() == 0 && upper.isfinite().all().item<bool>()) {
        result.upper = upper.to(at::kFloat);
        return result;
      }
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
  at::Tensor weight = w.to(at::kFloat).masked_fill(hessian.dead.unsqueeze(0), 0.0);

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
  at::Tensor columns_major = permuted ? weight.t().index_select(0, order) : weight.t().contiguous();
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
  at::Tensor codes = permuted ? solved.codes.index_select(0, inverse_order) : solved.codes;
  solved.codes = at::Tensor();
  if (span_grid) grid = span_grid->bind(at::cat(solved.stored, 1));
  result.layer = {codes.t().contiguous(), params.scale, params.zero, g_idx, std::move(grid)};
  return result;
}

}  // namespace mp
