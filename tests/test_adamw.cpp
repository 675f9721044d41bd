// AdamW, gradient clipping and the learning-rate schedule against scalar reference formulas.
#include <catch2/catch.hpp>

#include <cmath>

#include "distill/adamw.h"

TEST_CASE("AdamW follows the decoupled-weight-decay update", "[distill][adamw]") {
  const mp::AdamWOptions o{0.9, 0.99, 1e-8, 0.1};
  at::Tensor w = at::tensor({1.0f, -2.0f, 0.5f, 3.0f}).reshape({2, 2}).set_requires_grad(true);
  at::Tensor norm = at::tensor({1.0f, 1.0f}).set_requires_grad(true);  // 1-D: no decay
  mp::AdamW adam({{"w", w}, {"norm", norm}}, o);
  const std::vector<std::vector<double>> grads = {{0.5, -1.0, 0.0, 2.0}, {-0.25, 0.5, 1.0, 1.0}};
  std::vector<double> ref = {1.0, -2.0, 0.5, 3.0}, m(4, 0), v(4, 0);
  const double lrs[] = {0.1, 0.05};
  for (int step = 0; step < 2; ++step) {
    w.mutable_grad() = at::tensor(std::vector<float>(grads[step].begin(), grads[step].end())).reshape({2, 2});
    norm.mutable_grad() = at::tensor({1.0f, -1.0f});
    adam.step(lrs[step]);
    for (int i = 0; i < 4; ++i) {
      const double g = grads[step][i], lr = lrs[step];
      ref[i] *= 1 - lr * o.weight_decay;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      const double mhat = m[i] / (1 - std::pow(o.beta1, step + 1)), vhat = v[i] / (1 - std::pow(o.beta2, step + 1));
      ref[i] -= lr * mhat / (std::sqrt(vhat) + o.eps);
    }
  }
  const at::Tensor got = w.detach().reshape({-1});
  for (int i = 0; i < 4; ++i) CHECK(got[i].item<double>() == Approx(ref[i]).epsilon(1e-6));
  // No decay on the norm: two steps of +-lr (Adam's first steps move by lr·sign(g)).
  CHECK(norm[0].item<double>() == Approx(1.0 - 0.1 - 0.05).epsilon(1e-5));
  CHECK(norm[1].item<double>() == Approx(1.0 + 0.1 + 0.05).epsilon(1e-5));
  CHECK(adam.steps_taken() == 2);

  // State round trip: a restored optimizer continues identically.
  mp::AdamW restored({{"w", w}, {"norm", norm}}, o);
  restored.load_state(adam.state(), adam.steps_taken());
  at::Tensor w2 = w.detach().clone();
  w.mutable_grad() = at::ones({2, 2});
  norm.mutable_grad() = at::ones({2});
  adam.step(0.01);
  const at::Tensor after_original = w.detach().clone();
  { at::NoGradGuard g; w.copy_(w2); }
  restored.step(0.01);
  CHECK(w.detach().equal(after_original));
}

// The multi-tensor update against the obvious one: each parameter updated on its own with the same
// ATen ops (the implementation before the update was batched), over several steps with weight decay,
// a 1-D parameter and a parameter the loss does not reach. Same ops, same order: equal bits.
TEST_CASE("AdamW's multi-tensor step equals the per-parameter update bit for bit", "[distill][adamw]") {
  const mp::AdamWOptions o{0.9, 0.95, 1e-8, 0.1};
  at::manual_seed(3);
  const std::vector<std::vector<int64_t>> shapes = {{64, 33}, {33}, {5, 7, 3}, {17}};
  std::vector<std::pair<std::string, at::Tensor>> params;
  std::vector<at::Tensor> ref, m, v;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const at::Tensor value = at::randn(shapes[i]);
    params.emplace_back("p" + std::to_string(i), value.clone().set_requires_grad(true));
    ref.push_back(value.clone());
    m.push_back(at::zeros_like(value));
    v.push_back(at::zeros_like(value));
  }
  mp::AdamW adam(params, o);
  const double lrs[] = {1e-2, 3e-3, 1e-3};
  for (int step = 1; step <= 3; ++step) {
    const double lr = lrs[step - 1], c1 = 1 - std::pow(o.beta1, step), c2 = 1 - std::pow(o.beta2, step);
    for (size_t i = 0; i < params.size(); ++i) {
      if (i == 3) continue;  // never reached by the loss: no gradient, no update
      const at::Tensor g = at::randn(shapes[i]);
      params[i].second.mutable_grad() = g;
      if (ref[i].dim() > 1) ref[i].mul_(1 - lr * o.weight_decay);
      m[i].mul_(o.beta1).add_(g, 1 - o.beta1);
      v[i].mul_(o.beta2).addcmul_(g, g, 1 - o.beta2);
      ref[i].addcdiv_(m[i], (v[i] / c2).sqrt_().add_(o.eps), -lr / c1);
    }
    adam.step(lr);
    adam.zero_grad();
  }
  for (size_t i = 0; i < params.size(); ++i) CHECK(params[i].second.detach().equal(ref[i]));
  CHECK(params[3].second.detach().equal(ref[3]));  // untouched
  const auto state = adam.state();
  CHECK(state[0].first == "exp_avg.p0");  // checkpoint names unchanged: earlier checkpoints resume
  CHECK(state[0].second.equal(m[0]));
  CHECK(state[5].first == "exp_avg_sq.p2");
  CHECK(state[5].second.equal(v[2]));
}

TEST_CASE("clip_grad_norm of many large gradients matches a double-precision reference", "[distill][adamw]") {
  at::manual_seed(5);
  std::vector<std::pair<std::string, at::Tensor>> params;
  double sum_sq = 0;
  for (int64_t n : {100000, 3, 70001}) {
    at::Tensor p = at::zeros({n}).set_requires_grad(true);
    p.mutable_grad() = at::randn({n}) * 0.01;
    const at::Tensor g64 = p.grad().to(at::kDouble);
    sum_sq += (g64 * g64).sum().item<double>();
    params.emplace_back("p" + std::to_string(n), p);
  }
  const double expected = std::sqrt(sum_sq);
  const at::Tensor before = params[0].second.grad().clone();
  CHECK(mp::clip_grad_norm(params, 0.5) == Approx(expected).epsilon(1e-6));
  CHECK(params[0].second.grad().allclose(before * (0.5 / expected), 1e-5, 0));
}

TEST_CASE("clip_grad_norm scales to the global norm", "[distill][adamw]") {
  at::Tensor a = at::zeros({2}).set_requires_grad(true), b = at::zeros({1}).set_requires_grad(true);
  a.mutable_grad() = at::tensor({3.0f, 0.0f});
  b.mutable_grad() = at::tensor({4.0f});
  const std::vector<std::pair<std::string, at::Tensor>> params = {{"a", a}, {"b", b}};
  CHECK(mp::clip_grad_norm(params, 10.0) == Approx(5.0));
  CHECK(b.grad()[0].item<double>() == Approx(4.0));  // under the limit: untouched
  CHECK(mp::clip_grad_norm(params, 1.0) == Approx(5.0));
  CHECK(a.grad()[0].item<double>() == Approx(0.6).epsilon(1e-5));
  CHECK(b.grad()[0].item<double>() == Approx(0.8).epsilon(1e-5));
}

TEST_CASE("warmup then cosine decay", "[distill][adamw]") {
  CHECK(mp::warmup_cosine_lr(0, 10, 110, 1.0, 0.1) == Approx(0.1));
  CHECK(mp::warmup_cosine_lr(9, 10, 110, 1.0, 0.1) == Approx(1.0));
  CHECK(mp::warmup_cosine_lr(10, 10, 110, 1.0, 0.1) == Approx(1.0));
  CHECK(mp::warmup_cosine_lr(60, 10, 110, 1.0, 0.1) == Approx(0.55));  // halfway: midpoint
  CHECK(mp::warmup_cosine_lr(110, 10, 110, 1.0, 0.1) == Approx(0.1));
  CHECK(mp::warmup_cosine_lr(35, 10, 110, 1.0, 0.0) == Approx(0.5 * (1 + std::cos(M_PI / 4))));
}
