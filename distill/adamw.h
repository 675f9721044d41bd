// AdamW (Loshchilov & Hutter 2019): Adam with bias correction and weight decay decoupled from the
// gradient. Written with LibTorch's multi-tensor (_foreach_) ops, one call per stage of the update
// for all parameters, as torch.optim.AdamW(foreach=True) does; its state stays a handful of named
// tensors that a checkpoint saves and restores exactly (the same names and layout as before the
// ops were batched, so earlier checkpoints resume).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace mp {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
};

class AdamW {
 public:
  // Parameters by name; 1-D parameters (norm weights) get no weight decay, as is customary.
  AdamW(std::vector<std::pair<std::string, at::Tensor>> parameters, AdamWOptions options);

  // One update with learning rate `lr` from the parameters' .grad(); counts steps itself.
  void step(double lr);
  void zero_grad();
  int64_t steps_taken() const { return step_; }

  // exp_avg.<name> and exp_avg_sq.<name> for every parameter, for checkpoints.
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, at::Tensor>>& state, int64_t steps_taken);

 private:
  std::vector<std::pair<std::string, at::Tensor>> params_;
  std::vector<at::Tensor> exp_avg_, exp_avg_sq_;
  AdamWOptions options_;
  int64_t step_ = 0;
};

// Scales all gradients so that their global L2 norm is at most max_norm (no-op when max_norm <= 0).
// Returns the norm before clipping: the norm of the per-tensor f32 norms, as torch's clip_grad_norm_.
double clip_grad_norm(const std::vector<std::pair<std::string, at::Tensor>>& parameters, double max_norm);

// Linear warmup from 0 to peak over `warmup` steps, then cosine decay to min_lr at `total` steps.
// `step` counts from 0 (the learning rate of the first update is warmup_cosine_lr(0, ...) = peak / warmup).
double warmup_cosine_lr(int64_t step, int64_t warmup, int64_t total, double peak, double min_lr);

}  // namespace mp
