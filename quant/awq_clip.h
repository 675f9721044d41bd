// AWQ's weight clipping search (AutoAWQ's auto_clip): after scaling, for every (output row,
// group) try shrinking the clipping range max|w| by factors 1, 1 − 1/steps, ... (while the
// shrink stays below max_shrink) and keep the one whose quantized group gives the smallest
// output error on a sample of calibration tokens. The weights are then clamped to it, and the
// grid's ordinary min-max choice on the clamped weights reproduces the chosen range.
#pragma once
#include "quant/grid.h"

namespace mp {

struct AwqClipOptions {
  int steps = 20;             // shrink factors 1 − i/steps ...
  double max_shrink = 0.5;    // ... for i < max_shrink · steps (AutoAWQ: down to 0.55)
  int64_t sample_tokens = 512;  // tokens, evenly spaced over the calibration set
};

// Whether AWQ clips a linear: not q_proj/k_proj (nor phi3's qkv_proj, which holds them). Their outputs only matter through the softmax of
// q·kᵀ, so the per-linear output MSE the search minimises is a poor proxy there (AutoAWQ skips
// them for this reason).
bool awq_clips(const std::string& suffix);

// Clamps w [out, in] in place of its return value; inputs [..., in] as the linear sees them.
at::Tensor clip_weights(const at::Tensor& w, const at::Tensor& inputs, const Grid& grid, const AwqClipOptions& options);

}  // namespace mp
