#include "distill/losses.h"

#include <cmath>

#include "lib/base/error.h"

namespace mp {

namespace {

// An empty bucket has log-probability -inf, and 0·(-inf) would make its zero contribution NaN in
// both the forward and the backward pass. Any log-probability below this floor has exp() == 0 in
// float32 anyway, so clamping to it changes no value and keeps every product finite.
constexpr double kLogFloor = -1e30;

void check_options(const DistillOptions& o) {
  if (!(o.temperature > 0)) fail_input("--temperature", "must be positive");
  if (!(o.beta >= 0 && o.beta <= 1)) fail_input("--beta", "must lie in [0, 1]");
  if (!(o.alpha >= 0 && o.alpha <= 1)) fail_input("--alpha", "must lie in [0, 1]");
  if (o.chunk_rows < 1) fail_runtime("distillation loss: chunk_rows must be at least 1");
}

void check_rows(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 2) fail_runtime("distillation loss: logits must be [N, V]");
  if (labels.defined() && (labels.dim() != 1 || labels.size(0) != logits.size(0)))
    fail_runtime("distillation loss: labels must be [N] for logits [N, V]");
}

// float32 unless the caller works in float64 (as gradient checks do).
at::Tensor in_compute_precision(const at::Tensor& x) {
  return x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
}

// Sum over buckets of p·(log p - log q), per row.
at::Tensor kl_rows(const at::Tensor& log_p, const at::Tensor& log_q) {
  return (log_p.exp() * (log_p - log_q)).sum(1);
}

// Per-row divergence between teacher and student log-probabilities over the same buckets.
at::Tensor divergence_rows(const at::Tensor& teacher_logp, const at::Tensor& student_logp,
                           const DistillOptions& o) {
  const at::Tensor t = teacher_logp.clamp_min(kLogFloor);
  const at::Tensor s = student_logp.clamp_min(kLogFloor);
  const bool forward = o.divergence == Divergence::forward_kl ||
                       (o.divergence == Divergence::jsd && o.beta == 0.0);
  const bool reverse = o.divergence == Divergence::reverse_kl ||
                       (o.divergence == Divergence::jsd && o.beta == 1.0);
  if (forward) return kl_rows(t, s);
  if (reverse) return kl_rows(s, t);
  const at::Tensor mixture = at::logaddexp(t + std::log(o.beta), s + std::log1p(-o.beta));
  return o.beta * kl_rows(t, mixture) + (1.0 - o.beta) * kl_rows(s, mixture);
}

int64_t counted_rows(const at::Tensor& labels, int64_t rows, int64_t ignore_index) {
  return labels.defined() ? (labels != ignore_index).sum().item<int64_t>() : rows;
}

// Mean of row_losses(begin, n) over the rows not labelled ignore_index, one chunk at a time.
template <typename RowLosses>
at::Tensor masked_row_mean(int64_t rows, const at::Tensor& labels, int64_t ignore_index,
                           int64_t chunk_rows, RowLosses row_losses) {
  at::Tensor total;
  for (int64_t begin = 0; begin < rows; begin += chunk_rows) {
    const int64_t n = std::min(chunk_rows, rows - begin);
    at::Tensor losses = row_losses(begin, n);
    if (labels.defined()) losses = losses.masked_fill(labels.narrow(0, begin, n) == ignore_index, 0);
    total = total.defined() ? total + losses.sum() : losses.sum();
  }
  if (!total.defined()) return at::zeros({}, at::kFloat);
  return total / static_cast<double>(std::max<int64_t>(counted_rows(labels, rows, ignore_index), 1));
}

}  // namespace

at::Tensor topk_bucket_logprobs(const at::Tensor& logits, const at::Tensor& indices) {
  const at::Tensor log_p = at::log_softmax(in_compute_precision(logits), 1);
  // The rest's mass as a log-sum-exp over the other tokens: 1 - sum(top-k) would cancel to 0 (and
  // its log to -inf) whenever the top k hold nearly everything. The floor, unlike -inf, keeps the
  // backward pass finite when the k tokens are the whole vocabulary.
  const at::Tensor tail = at::logsumexp(log_p.scatter(1, indices, kLogFloor), 1, true);
  return at::cat({log_p.gather(1, indices), tail}, 1);
}

namespace {

at::Tensor teacher_buckets(const TeacherTopK& teacher) {
  return at::cat({in_compute_precision(teacher.logprobs),
                  in_compute_precision(teacher.tail_logmass).unsqueeze(1)},
                 1)
      .clamp_min(kLogFloor);
}

// softmax(log p / T) over buckets, i.e. p^(1/T) renormalised.
at::Tensor soften(const at::Tensor& log_p, double temperature) {
  return temperature == 1.0 ? log_p : at::log_softmax(log_p / temperature, 1);
}

}  // namespace

at::Tensor kd_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                   const at::Tensor& labels, const DistillOptions& options) {
  check_options(options);
  check_rows(student_logits, labels);
  if (!teacher_logits.sizes().equals(student_logits.sizes()))
    fail_runtime("distillation loss: teacher and student logits differ in shape");
  const double t = options.temperature;
  const at::Tensor mean = masked_row_mean(
      student_logits.size(0), labels, options.ignore_index, options.chunk_rows,
      [&](int64_t begin, int64_t n) {
        return divergence_rows(
            at::log_softmax(in_compute_precision(teacher_logits.narrow(0, begin, n)) / t, 1),
            at::log_softmax(in_compute_precision(student_logits.narrow(0, begin, n)) / t, 1),
            options);
      });
  return mean * (t * t);
}

at::Tensor kd_loss(const at::Tensor& student_logits, const TeacherTopK& teacher,
                   const at::Tensor& labels, const DistillOptions& options) {
  check_options(options);
  check_rows(student_logits, labels);
  if (teacher.rows() != student_logits.size(0))
    fail_runtime("distillation loss: teacher rows differ from student rows");
  const double t = options.temperature;
  const at::Tensor mean = masked_row_mean(
      student_logits.size(0), labels, options.ignore_index, options.chunk_rows,
      [&](int64_t begin, int64_t n) {
        const TeacherTopK rows = slice_rows(teacher, begin, n);
        return divergence_rows(
            soften(teacher_buckets(rows), t),
            soften(topk_bucket_logprobs(student_logits.narrow(0, begin, n), rows.indices), t), options);
      });
  return mean * (t * t);
}

at::Tensor cross_entropy_loss(const at::Tensor& logits, const at::Tensor& labels,
                              int64_t ignore_index, int64_t chunk_rows) {
  check_rows(logits, labels);
  if (!labels.defined()) fail_runtime("cross-entropy: labels are required");
  if (chunk_rows < 1) fail_runtime("cross-entropy: chunk_rows must be at least 1");
  return masked_row_mean(logits.size(0), labels, ignore_index, chunk_rows,
                         [&](int64_t begin, int64_t n) {
                           const at::Tensor label = labels.narrow(0, begin, n);
                           const at::Tensor safe = label.masked_fill(label == ignore_index, 0);
                           const at::Tensor log_p =
                               at::log_softmax(in_compute_precision(logits.narrow(0, begin, n)), 1);
                           return -log_p.gather(1, safe.unsqueeze(1)).squeeze(1);
                         });
}

namespace {
template <typename Teacher>
at::Tensor mix_with_cross_entropy(const at::Tensor& student_logits, const Teacher& teacher,
                                  const at::Tensor& labels, const DistillOptions& options) {
  check_options(options);
  at::Tensor loss = at::zeros({}, at::kFloat);
  if (options.alpha > 0)
    loss = loss + options.alpha * kd_loss(student_logits, teacher, labels, options);
  if (options.alpha < 1)
    loss = loss + (1.0 - options.alpha) * cross_entropy_loss(student_logits, labels,
                                                             options.ignore_index,
                                                             options.chunk_rows);
  return loss;
}
}  // namespace

at::Tensor distillation_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                             const at::Tensor& labels, const DistillOptions& options) {
  return mix_with_cross_entropy(student_logits, teacher_logits, labels, options);
}

at::Tensor distillation_loss(const at::Tensor& student_logits, const TeacherTopK& teacher,
                             const at::Tensor& labels, const DistillOptions& options) {
  return mix_with_cross_entropy(student_logits, teacher, labels, options);
}

namespace {

at::Tensor teacher_rows(const at::Tensor& logits, int64_t begin, int64_t n) {
  return logits.narrow(0, begin, n);
}
TeacherTopK teacher_rows(const TeacherTopK& teacher, int64_t begin, int64_t n) {
  return slice_rows(teacher, begin, n);
}

// Each chunk's loss is a mean over its own counted rows; weighting it by its share of all counted
// rows turns the chunk means into the mean over every row.
template <typename Teacher>
LossAndGradient chunked_loss_and_gradient(const at::Tensor& student_logits, const Teacher& teacher,
                                          const at::Tensor& labels, const DistillOptions& options) {
  check_options(options);
  check_rows(student_logits, labels);
  at::AutoGradMode grad_mode(true);
  const int64_t rows = student_logits.size(0);
  const double total = static_cast<double>(
      std::max<int64_t>(counted_rows(labels, rows, options.ignore_index), 1));
  at::Tensor gradient = at::zeros_like(student_logits);
  at::Tensor loss = at::zeros({}, at::kDouble);
  for (int64_t begin = 0; begin < rows; begin += options.chunk_rows) {
    const int64_t n = std::min(options.chunk_rows, rows - begin);
    const at::Tensor chunk_labels = labels.defined() ? labels.narrow(0, begin, n) : labels;
    const double weight = counted_rows(chunk_labels, n, options.ignore_index) / total;
    if (weight == 0) continue;
    at::Tensor leaf = student_logits.narrow(0, begin, n).detach().requires_grad_(true);
    const at::Tensor chunk_loss =
        distillation_loss(leaf, teacher_rows(teacher, begin, n), chunk_labels, options) * weight;
    chunk_loss.backward();
    gradient.narrow(0, begin, n).copy_(leaf.grad());
    loss = loss + chunk_loss.detach().to(at::kDouble);
  }
  return {loss.to(student_logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat), gradient};
}

}  // namespace

LossAndGradient distillation_loss_and_gradient(const at::Tensor& student_logits,
                                               const at::Tensor& teacher_logits,
                                               const at::Tensor& labels,
                                               const DistillOptions& options) {
  return chunked_loss_and_gradient(student_logits, teacher_logits, labels, options);
}

LossAndGradient distillation_loss_and_gradient(const at::Tensor& student_logits,
                                               const TeacherTopK& teacher, const at::Tensor& labels,
                                               const DistillOptions& options) {
  return chunked_loss_and_gradient(student_logits, teacher, labels, options);
}

}  // namespace mp
