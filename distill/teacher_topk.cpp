#include "distill/teacher_topk.h"

#include <limits>

#include "lib/base/error.h"

namespace mp {

TeacherTopK teacher_topk(const at::Tensor& logits, int64_t k) {
  if (logits.dim() != 2) fail_runtime("teacher_topk: logits must be [N, V]");
  if (k < 1 || k > logits.size(1))
    fail_runtime("teacher_topk: k=" + std::to_string(k) + " outside [1, V=" +
                 std::to_string(logits.size(1)) + "]");
  at::NoGradGuard no_grad;
  const at::Tensor x = logits.to(at::kFloat);
  const at::Tensor total = at::logsumexp(x, 1);
  auto [top_logits, indices] = at::topk(x, k, 1);
  const at::Tensor outside =
      x.scatter(1, indices, -std::numeric_limits<float>::infinity());
  return {indices, top_logits - total.unsqueeze(1), at::logsumexp(outside, 1) - total};
}

TeacherTopK slice_rows(const TeacherTopK& all, int64_t start, int64_t count) {
  return {all.indices.narrow(0, start, count), all.logprobs.narrow(0, start, count),
          all.tail_logmass.narrow(0, start, count)};
}

}  // namespace mp
