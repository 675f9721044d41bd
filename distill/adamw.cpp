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
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    const at::Tensor grad = p.grad();
    if (!grad.defined()) continue;  // a parameter the loss does not reach
    if (p.dim() > 1 && options_.weight_decay > 0) p.mul_(1.0 - lr * options_.weight_decay);
    exp_avg_[i].mul_(b1).add_(grad, 1.0 - b1);
    exp_avg_sq_[i].mul_(b2).addcmul_(grad, grad, 1.0 - b2);
    const at::Tensor denom = (exp_avg_sq_[i] / correction2).sqrt_().add_(options_.eps);
    p.addcdiv_(exp_avg_[i], denom, -lr / correction1);
  }
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
  double sum_sq = 0;
  for (const auto& p : parameters)
    if (p.second.grad().defined()) sum_sq += p.second.grad().to(at::kDouble).pow(2).sum().item<double>();
  const double norm = std::sqrt(sum_sq);
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& p : parameters)
      if (p.second.grad().defined()) p.second.mutable_grad().mul_(scale);
  }
  return norm;
}

double warmup_cosine_lr(int64_t step, int64_t warmup, int64_t total, double peak, double min_lr) {
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (total <= warmup) return peak;
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(total - warmup));
  return min_lr + 0.5 * (peak - min_lr) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace mp
