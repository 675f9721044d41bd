#include "distill/adamw.h"

#include <cmath>

#include "lib/base/error.h"

namespace mp {

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor>> parameters, AdamWOptions options)
    : params_(std::move(parameters)), options_(options) {
  for (const auto& p : params_) {
    exp_avg_.push_back(at::zeros_like(p.second, at::MemoryFormat::Contiguous));
    exp_avg_sq_.push_back(at::zeros_like(p.second, at::MemoryFormat::Contiguous));
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++step_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double correction1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double correction2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  // The parameters the loss reaches, each update one multi-tensor op over all of them. The ops and
  // their order are those of the per-parameter update, so the results are bit-identical to it.
  std::vector<at::Tensor> params, grads, exp_avg, exp_avg_sq, decayed;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    params.push_back(p);
    grads.push_back(p.grad());
    exp_avg.push_back(exp_avg_[i]);
    exp_avg_sq.push_back(exp_avg_sq_[i]);
    if (p.dim() > 1) decayed.push_back(p);
  }
  if (params.empty()) return;
  if (options_.weight_decay > 0 && !decayed.empty()) at::_foreach_mul_(decayed, 1.0 - lr * options_.weight_decay);
  at::_foreach_mul_(exp_avg, b1);
  at::_foreach_add_(exp_avg, grads, 1.0 - b1);
  at::_foreach_mul_(exp_avg_sq, b2);
  at::_foreach_addcmul_(exp_avg_sq, grads, grads, 1.0 - b2);
  std::vector<at::Tensor> denom = at::_foreach_div(exp_avg_sq, correction2);
  at::_foreach_sqrt_(denom);
  at::_foreach_add_(denom, options_.eps);
  at::_foreach_addcdiv_(params, exp_avg, denom, -lr / correction1);
}

void AdamW::zero_grad() {
  for (auto& p : params_)
    if (p.second.grad().defined()) p.second.mutable_grad() = at::Tensor();
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("exp_avg." + params_[i].first, exp_avg_[i]);
    out.emplace_back("exp_avg_sq." + params_[i].first, exp_avg_sq_[i]);
  }
  return out;
}

void AdamW::load_state(const std::vector<std::pair<std::string, at::Tensor>>& state, int64_t steps_taken) {
  auto find = [&](const std::string& name) -> const at::Tensor& {
    for (const auto& s : state)
      if (s.first == name) return s.second;
    fail_input("optimizer state", "no tensor " + name);
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    exp_avg_[i].copy_(find("exp_avg." + params_[i].first));
    exp_avg_sq_[i].copy_(find("exp_avg_sq." + params_[i].first));
  }
  step_ = steps_taken;
}

double clip_grad_norm(const std::vector<std::pair<std::string, at::Tensor>>& parameters, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& p : parameters)
    if (p.second.grad().defined()) grads.push_back(p.second.grad());
  if (grads.empty()) return 0;
  // Each gradient's norm in its own precision (one pass, no double copy of 100M values), then
  // the norm of those norms in double: PyTorch's clip_grad_norm_.
  const double norm = at::stack(at::_foreach_norm(grads, 2)).to(at::kDouble).norm().item<double>();
  if (max_norm > 0 && norm > max_norm) at::_foreach_mul_(grads, max_norm / (norm + 1e-6));
  return norm;
}

double warmup_cosine_lr(int64_t step, int64_t warmup, int64_t total, double peak, double min_lr) {
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (total <= warmup) return peak;
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
  return min_lr + 0.5 * (peak - min_lr) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace mp
