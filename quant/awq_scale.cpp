#include "quant/awq_scale.h"

#include <limits>

#include "lib/base/error.h"
#include "lib/base/huge_page_tensor.h"
#include "quant/layer_compute_copy.h"
#include "quant/rtn.h"

namespace mp {

namespace {

// Under grouped-query attention v_proj has fewer outputs (kv_heads · d) than o_proj has inputs
// (heads · d): o_proj input channel c reads the v output channel of its query head's KV head. A
// scale folded into v's row therefore reaches every query head of the group, so v→o is searched
// with one scale per v output, shared by the o_proj columns that read it.
at::Tensor v_channel_of_o_input(const ModelConfig& c) {
  const at::Tensor channel = at::arange(c.q_size(), at::kLong);
  const at::Tensor head = channel.div(c.head_dim, "floor");
  const int64_t heads_per_kv = c.num_heads / c.num_kv_heads;
  return head.div(heads_per_kv, "floor") * c.head_dim + channel.remainder(c.head_dim);
}

// Per-channel statistics of o_proj's input, averaged over the query heads sharing a v channel.
at::Tensor to_v_channels(const ModelConfig& c, const at::Tensor& per_o_input) {
  const at::Tensor sum = at::zeros({c.kv_size()}, per_o_input.options()).index_add_(0, v_channel_of_o_input(c), per_o_input);
  return sum / static_cast<double>(c.num_heads / c.num_kv_heads);
}

// The scales as the consumer's input columns see them.
at::Tensor column_scales(const ModelConfig& c, const ScalingGroup& group, const at::Tensor& scales) {
  return group.previous == ScaledOp::v_proj ? scales.index_select(0, v_channel_of_o_input(c)) : scales;
}

// Mean over output rows of |w| normalized by its group's max |w|: the weight term of duo scaling.
at::Tensor normalized_weight_magnitude(const at::Tensor& w, int64_t group_size) {
  const int64_t in = w.size(1), size = group_size == -1 ? in : group_size;
  at::Tensor magnitude = w.abs();
  std::vector<at::Tensor> parts;
  for (int64_t begin = 0; begin < in; begin += size) {
    at::Tensor g = magnitude.narrow(1, begin, std::min(size, in - begin));
    parts.push_back(g / at::clamp_min(std::get<0>(g.max(1, /*keepdim=*/true)), 1e-12));
  }
  return at::cat(parts, 1).mean(0);
}

at::Tensor block_output(const ModelConfig& c, const DecoderLayerWeights& w, RotaryEmbedding& rope,
                        InspectedBlock block, const at::Tensor& x) {
  switch (block) {
    case InspectedBlock::attention: return attention_block_forward(c, w, rope, x);
    case InspectedBlock::o_proj: return at::matmul(x, w.o.t());
    case InspectedBlock::mlp: return mlp_block_forward(c, w, x);
    case InspectedBlock::down_proj: return at::matmul(x, w.down.t());
  }
  fail_runtime("unknown AWQ block");
}

// The search runs its block forwards over a few windows at a time: over all 65,536 search tokens
// of a 1B model at once, each [tokens, ffn] activation of the MLP block would be 1 GiB in bf16.
// Means are combined weighted by each chunk's share, so one chunk gives exactly the plain mean.
constexpr int64_t kChunkTokens = 16384;
// The trial loop frees and allocates the same blocks for each α (the chunk's activations, the trial
// weights): kept for reuse up to this much, they are not zeroed afresh by the kernel each time.
constexpr size_t kReusedBytes = size_t{512} << 20;

struct Chunk {
  at::Tensor x;
  double share;  // of all windows
};

std::vector<Chunk> window_chunks(const at::Tensor& x) {
  const int64_t per = std::max<int64_t>(1, kChunkTokens / std::max<int64_t>(1, x.size(1)));
  std::vector<Chunk> chunks;
  for (int64_t s = 0; s < x.size(0); s += per) {
    const int64_t n = std::min(per, x.size(0) - s);
    chunks.push_back({x.narrow(0, s, n), static_cast<double>(n) / static_cast<double>(x.size(0))});
  }
  return chunks;
}

}  // namespace

const std::vector<ScalingGroup>& awq_scaling_groups(const ModelConfig& config) {
  return architecture_of(config).awq_scaling_groups();
}

ScaleChoice search_scales(const ModelConfig& config, const DecoderLayerWeights& w, RotaryEmbedding& rope,
                          const ScalingGroup& group, const at::Tensor& inputs, const GridForLinear& grid_for,
                          const AwqScaleOptions& options) {
  if (options.grid < 1) fail_input("--grid", "must be at least 1");
  // The block runs in the inputs' compute type; statistics, scales and rounding stay in f32.
  const at::ScalarType compute = inputs.scalar_type();
  const std::vector<Chunk> chunks = window_chunks(inputs);
  const bool via_v = group.previous == ScaledOp::v_proj;
  // Step 1: the activation statistic, mean |x| per input channel.
  at::Tensor x_mean;
  for (const Chunk& c : chunks) {
    const at::Tensor m = c.x.abs().reshape({-1, c.x.size(-1)}).mean(0, /*keepdim=*/false, at::kFloat) * c.share;
    x_mean = x_mean.defined() ? x_mean + m : m;
  }
  if (via_v) x_mean = to_v_channels(config, x_mean);
  at::Tensor w_mean;
  if (options.duo_scaling) {
    std::vector<at::Tensor> weights;
    int64_t group_size = -1;
    for (const auto& suffix : group.linears) {
      weights.push_back(w.linear(suffix));
      if (auto grid = grid_for(suffix)) group_size = grid->group_size();
    }
    w_mean = normalized_weight_magnitude(at::cat(weights, 0), group_size);
    if (via_v) w_mean = to_v_channels(config, w_mean);
  }

  const ReuseFreedHugePages reuse(kReusedBytes);
  const DecoderLayerWeights computed = compute == at::kFloat ? w : layer_in_compute_type(config, w, compute);
  std::vector<at::Tensor> reference;
  for (const Chunk& c : chunks) reference.push_back(block_output(config, computed, rope, group.block, c.x));
  ScaleChoice best;
  best.loss = std::numeric_limits<double>::infinity();
  // Step 2: for every α, scale, quantize, unscale (Q(W·s)/s, which is what the folded model
  // computes on x/s) and measure the block output error.
  for (int i = 0; i < options.grid; ++i) {
    const double alpha = static_cast<double>(i) / options.grid;
    at::Tensor s = x_mean.pow(alpha);
    if (options.duo_scaling) s = s / (w_mean.pow(1 - alpha) + 1e-4);
    s = at::clamp_min(s, 1e-4);
    s = s / (s.max() * s.min()).sqrt();
    const at::Tensor columns = column_scales(config, group, s);
    DecoderLayerWeights trial = computed;
    for (const auto& suffix : group.linears) {
      auto grid = grid_for(suffix);
      if (!grid) continue;
      trial.linear(suffix) = (quantize_rtn(w.linear(suffix) * columns, grid).dequantize() / columns).to(compute);
    }
    double loss = 0;
    for (size_t k = 0; k < chunks.size(); ++k) {
      const at::Tensor error = block_output(config, trial, rope, group.block, chunks[k].x) - reference[k];
      loss += error.square().mean(c10::nullopt, /*keepdim=*/false, at::kFloat).item<double>() * chunks[k].share;
    }
    if (i == 0) best.loss_at_zero = loss;
    if (loss < best.loss) {
      best.loss = loss;
      best.alpha = alpha;
      best.scales = s;
    }
  }
  if (!best.scales.defined()) fail_runtime("AWQ scale search: every α gave a non-finite loss for " + std::string(group.name));
  return best;
}

void fold_scales(const ModelConfig& config, DecoderLayerWeights& w, const ScalingGroup& group, const at::Tensor& scales) {
  // Rows from `first` on (the v rows of a fused qkv_proj, the up rows of a fused gate_up_proj) are divided.
  auto divide_rows = [&](at::Tensor& weight, at::Tensor& bias, int64_t first = 0) {
    at::Tensor divisors = at::ones({weight.size(0)}, scales.options());
    divisors.narrow(0, first, scales.size(0)).copy_(scales);
    weight = weight / divisors.unsqueeze(1);
    if (bias.defined()) bias = bias / divisors;
  };
  // A (1 + w) norm absorbs 1/s as (1 + w)/s − 1.
  auto divide_norm = [&](at::Tensor& norm) { norm = config.norm_adds_one ? (1 + norm) / scales - 1 : norm / scales; };
  switch (group.previous) {
    case ScaledOp::input_norm: divide_norm(w.input_norm); break;
    case ScaledOp::post_attention_norm: divide_norm(w.post_attention_norm); break;
    case ScaledOp::v_proj:
      if (w.qkv.defined()) divide_rows(w.qkv, w.qkv_bias, config.q_size() + config.kv_size());
      else divide_rows(w.v, w.v_bias);
      break;
    case ScaledOp::up_proj:
      if (w.gate_up.defined()) divide_rows(w.gate_up, w.gate_up_bias, config.intermediate_size);
      else divide_rows(w.up, w.up_bias);
      break;
  }
  const at::Tensor columns = column_scales(config, group, scales);
  for (const auto& suffix : group.linears) w.linear(suffix) = w.linear(suffix) * columns;
}

at::Tensor scaled_inputs(const ModelConfig& config, const ScalingGroup& group, const at::Tensor& inputs,
                         const at::Tensor& scales) {
  // In the inputs' type: bf16 inputs divided by f32 scales would become an f32 copy (2 GiB for
  // down_proj's 65,536 search tokens of a 1B model).
  return inputs / column_scales(config, group, scales).to(inputs.scalar_type());
}

}  // namespace mp
