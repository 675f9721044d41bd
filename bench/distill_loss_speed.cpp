// Time of distillation loss + gradient per 1024 tokens at a Llama-2-sized vocabulary (32000):
// full teacher logits vs a top-k teacher, for each divergence, through the chunked
// distillation_loss_and_gradient (chunk_rows 256). Single-threaded numbers vary with the machine.
#include <chrono>
#include <cstdio>

#include <ATen/Parallel.h>

#include "distill/losses.h"

namespace {
template <typename Teacher>
double milliseconds(const at::Tensor& student, const Teacher& teacher, const at::Tensor& labels,
                    const mp::DistillOptions& options) {
  mp::distillation_loss_and_gradient(student, teacher, labels, options);  // warm-up
  const auto start = std::chrono::steady_clock::now();
  const int repeats = 3;
  for (int i = 0; i < repeats; ++i) mp::distillation_loss_and_gradient(student, teacher, labels, options);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
         repeats;
}
}  // namespace

int main() {
  at::set_num_threads(1);
  const int64_t tokens = 1024, vocab = 32000;
  at::manual_seed(0);
  const at::Tensor student = at::randn({tokens, vocab}) * 3.0;
  const at::Tensor teacher = at::randn({tokens, vocab}) * 3.0;
  const at::Tensor labels = at::randint(vocab, {tokens}, at::kLong);
  const char* names[] = {"forward_kl", "reverse_kl", "jsd(0.5)"};
  std::printf("%-12s %14s %14s %14s\n", "divergence", "full ms", "top-32 ms", "top-64 ms");
  for (auto divergence : {mp::Divergence::forward_kl, mp::Divergence::reverse_kl, mp::Divergence::jsd}) {
    mp::DistillOptions options;
    options.divergence = divergence;
    options.temperature = 2.0;
    options.alpha = 0.5;
    std::printf("%-12s %14.1f %14.1f %14.1f\n", names[static_cast<int>(divergence)],
                milliseconds(student, teacher, labels, options),
                milliseconds(student, mp::teacher_topk(teacher, 32), labels, options),
                milliseconds(student, mp::teacher_topk(teacher, 64), labels, options));
  }
}
