// A teacher's next-token distribution reduced to its k most likely tokens plus the mass of all the
// others: what the teacher cache stores and the top-k distillation losses consume.
#pragma once
#include <ATen/ATen.h>

namespace mp {

struct TeacherTopK {
  at::Tensor indices;       // int64 [N, k], most likely first
  at::Tensor logprobs;      // float32 [N, k], log p of those tokens at temperature 1
  at::Tensor tail_logmass;  // float32 [N], log(1 - sum of the k probabilities); very negative or
                            // -inf when the k tokens hold all the mass
  int64_t rows() const { return indices.size(0); }
  int64_t k() const { return indices.size(1); }
};

// From logits [N, V]. The tail is the log-sum-exp of the logits outside the top k minus that of all
// logits, so it stays exact when the tail is tiny (no 1 - sum(p) cancellation).
TeacherTopK teacher_topk(const at::Tensor& logits, int64_t k);

// Rows [start, start + count) of `all`.
TeacherTopK slice_rows(const TeacherTopK& all, int64_t start, int64_t count);

}  // namespace mp
