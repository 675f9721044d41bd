// Distillation losses on next-token distributions (docs/distillation-losses.md).
//
// Inputs are rows of logits [N, V] (N = tokens, V = vocabulary). Everything is built from ATen ops,
// so gradients reach any input that requires them. Rows are processed chunk_rows at a time so the
// temporaries (softmaxes of [chunk_rows, V]) stay bounded; autograd still keeps each chunk's saved
// tensors until backward(), though. distillation_loss_and_gradient() bounds that too.
//
// Every loss is a mean over the rows whose label is not ignore_index (over all rows when no labels
// are given); with no such rows it is 0.
#pragma once
#include <ATen/ATen.h>

#include "distill/teacher_topk.h"

namespace mp {

enum class Divergence {
  forward_kl,  // KL(p_teacher ‖ p_student): mode covering
  reverse_kl,  // KL(p_student ‖ p_teacher): mode seeking
  jsd,         // generalized Jensen-Shannon with weight beta on the teacher, see below
};

struct DistillOptions {
  Divergence divergence = Divergence::forward_kl;
  // JSD(beta) = beta·KL(p_T ‖ M) + (1-beta)·KL(p_S ‖ M), M = beta·p_T + (1-beta)·p_S.
  // As in GKD (Agarwal et al. 2024): beta = 0 is taken as forward KL and beta = 1 as reverse KL
  // (the limits of JSD(beta)/beta and JSD(beta)/(1-beta)); beta = 0.5 is the symmetric JSD.
  double beta = 0.5;
  // Both distributions are softened as softmax(logits / T); the divergence is multiplied by T² so
  // gradient magnitudes do not shrink as T grows (Hinton et al. 2015).
  double temperature = 1.0;
  // distillation_loss = alpha·KD + (1-alpha)·CE(labels), CE at temperature 1.
  double alpha = 1.0;
  int64_t ignore_index = -100;
  int64_t chunk_rows = 256;
};

// T²·divergence between the teacher's and the student's softened distributions. `labels` may be
// undefined (every row counts) or int64 [N] (rows labelled ignore_index are skipped).
at::Tensor kd_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                   const at::Tensor& labels, const DistillOptions& options);

// The same divergence against a cached top-k teacher, on k+1 buckets: the teacher's k tokens and
// "everything else". The student's distribution is collapsed onto the same buckets; temperature is
// applied to both bucket distributions alike (the tail bucket softened as if it were one token).
at::Tensor kd_loss(const at::Tensor& student_logits, const TeacherTopK& teacher,
                   const at::Tensor& labels, const DistillOptions& options);

// The distribution of `logits` [N, V] collapsed onto k+1 buckets: log-probabilities of the tokens
// in `indices` [N, k], then of all other tokens together. [N, k+1]
at::Tensor topk_bucket_logprobs(const at::Tensor& logits, const at::Tensor& indices);

// Cross-entropy of the student on the data labels (int64 [N]).
at::Tensor cross_entropy_loss(const at::Tensor& logits, const at::Tensor& labels,
                              int64_t ignore_index, int64_t chunk_rows);

// alpha·kd_loss + (1-alpha)·cross_entropy_loss; a term whose weight is 0 is not computed.
at::Tensor distillation_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                             const at::Tensor& labels, const DistillOptions& options);
at::Tensor distillation_loss(const at::Tensor& student_logits, const TeacherTopK& teacher,
                             const at::Tensor& labels, const DistillOptions& options);

// The loss and its gradient with respect to the student logits, one chunk of rows at a time, each
// chunk's graph freed before the next: peak memory is the gradient [N, V] plus one chunk's
// temporaries. The student logits are treated as a leaf; the caller continues backpropagation with
// student_logits.backward(gradient).
struct LossAndGradient {
  at::Tensor loss;      // scalar, equal to distillation_loss()
  at::Tensor gradient;  // d loss / d student_logits, shaped like student_logits
};
LossAndGradient distillation_loss_and_gradient(const at::Tensor& student_logits,
                                               const at::Tensor& teacher_logits,
                                               const at::Tensor& labels,
                                               const DistillOptions& options);
LossAndGradient distillation_loss_and_gradient(const at::Tensor& student_logits,
                                               const TeacherTopK& teacher, const at::Tensor& labels,
                                               const DistillOptions& options);

}  // namespace mp
