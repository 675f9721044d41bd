#include "lib/runtime/decoder_layer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lib/arch/architecture.h"
#include "lib/base/error.h"

namespace mp {

namespace {

// Each decoder linear's HF suffix and where its weight and bias live.
struct LinearSlot {
  const char* suffix;
  at::Tensor DecoderLayerWeights::*weight;
  at::Tensor DecoderLayerWeights::*bias;
};
constexpr LinearSlot kLinearSlots[] = {
    {"self_attn.q_proj", &DecoderLayerWeights::q, &DecoderLayerWeights::q_bias},
    {"self_attn.k_proj", &DecoderLayerWeights::k, &DecoderLayerWeights::k_bias},
    {"self_attn.v_proj", &DecoderLayerWeights::v, &DecoderLayerWeights::v_bias},
    {"self_attn.o_proj", &DecoderLayerWeights::o, &DecoderLayerWeights::o_bias},
    {"mlp.gate_proj", &DecoderLayerWeights::gate, &DecoderLayerWeights::gate_bias},
    {"mlp.up_proj", &DecoderLayerWeights::up, &DecoderLayerWeights::up_bias},
    {"mlp.down_proj", &DecoderLayerWeights::down, &DecoderLayerWeights::down_bias},
    {"self_attn.qkv_proj", &DecoderLayerWeights::qkv, &DecoderLayerWeights::qkv_bias},
    {"mlp.gate_up_proj", &DecoderLayerWeights::gate_up, &DecoderLayerWeights::gate_up_bias},
};

// The tensors that are not linears, by their full suffix.
constexpr std::pair<const char*, at::Tensor DecoderLayerWeights::*> kOtherSlots[] = {
    {"input_layernorm.weight", &DecoderLayerWeights::input_norm},
    {"post_attention_layernorm.weight", &DecoderLayerWeights::post_attention_norm},
    {"self_attn.q_norm.weight", &DecoderLayerWeights::q_norm},
    {"self_attn.k_norm.weight", &DecoderLayerWeights::k_norm},
    {"attn_output_norm", &DecoderLayerWeights::attn_output_norm},
    {"mlp_output_norm", &DecoderLayerWeights::mlp_output_norm},
};

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

const LinearSlot& linear_slot(const std::string& suffix) {
  for (const auto& slot : kLinearSlots)
    if (suffix == slot.suffix) return slot;
  fail_runtime("no linear named " + suffix);
}

}  // namespace

at::Tensor& DecoderLayerWeights::linear(const std::string& suffix) { return this->*linear_slot(suffix).weight; }

at::Tensor& DecoderLayerWeights::bias(const std::string& suffix) { return this->*linear_slot(suffix).bias; }

const at::Tensor& DecoderLayerWeights::linear(const std::string& suffix) const {
  return const_cast<DecoderLayerWeights*>(this)->linear(suffix);
}

const at::Tensor& DecoderLayerWeights::bias(const std::string& suffix) const {
  return const_cast<DecoderLayerWeights*>(this)->bias(suffix);
}

at::Tensor& DecoderLayerWeights::tensor(const std::string& suffix) {
  for (const auto& [name, slot] : kOtherSlots)
    if (suffix == name) return this->*slot;
  if (ends_with(suffix, ".weight")) return linear(suffix.substr(0, suffix.size() - 7));
  if (ends_with(suffix, ".bias")) return bias(suffix.substr(0, suffix.size() - 5));
  fail_runtime("no layer tensor named " + suffix);
}

const at::Tensor& DecoderLayerWeights::tensor(const std::string& suffix) const {
  return const_cast<DecoderLayerWeights*>(this)->tensor(suffix);
}

DecoderLayerWeights assemble_layer(const ModelConfig& config, int64_t layer,
                                   const std::function<at::Tensor(const std::string& suffix)>& get) {
  DecoderLayerWeights w;
  for (const LayerTensor& t : architecture_of(config).layer_tensors(config)) w.tensor(t.slot()) = get(t.hf);
  w.attention_window = config.attention_window(layer);
  return w;
}

const std::vector<LinearGroup>& decoder_linear_groups(const ModelConfig& config) {
  return architecture_of(config).linear_groups();
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool adds_one) {
  // Normalize in f32 whatever the compute type, as HF and llama.cpp do; Gemma also scales in f32.
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  if (adds_one) return (normed * (1 + weight.to(at::kFloat))).to(x.scalar_type());
  return normed.to(x.scalar_type()) * weight;
}

at::Tensor rms_norm(const ModelConfig& config, const at::Tensor& x, const at::Tensor& weight) {
  return rms_norm(x, weight, config.rms_norm_eps, config.norm_adds_one);
}

at::Tensor soft_cap(const at::Tensor& x, double cap) { return cap > 0 ? at::tanh(x / cap) * cap : x; }

at::Tensor embed_tokens(const ModelConfig& config, const at::Tensor& embedding, const at::Tensor& tokens) {
  at::Tensor h = at::embedding(embedding, tokens.to(embedding.device(), at::kLong));
  if (!config.scale_embeddings) return h;
  // HF rounds √hidden to the compute type before multiplying.
  return h * at::scalar_tensor(std::sqrt(static_cast<double>(config.hidden_size)), h.options());
}

at::Tensor output_logits(const ModelConfig& config, const at::Tensor& hidden, const at::Tensor& final_norm,
                         const at::Tensor& head) {
  return soft_cap(at::linear(rms_norm(config, hidden, final_norm), head).to(at::kFloat), config.final_softcap);
}

namespace {

at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
}

// Causal (and optionally sliding-window) additive mask for queries at start_pos.. over keys 0..
at::Tensor attention_mask(int64_t t, int64_t total, int64_t start_pos, int64_t window,
                          const at::Device& device) {
  at::Tensor q_pos = at::arange(start_pos, start_pos + t, at::TensorOptions(at::kLong).device(device)).unsqueeze(1);
  at::Tensor k_pos = at::arange(total, at::TensorOptions(at::kLong).device(device)).unsqueeze(0);
  at::Tensor blocked = k_pos > q_pos;
  if (window > 0) blocked = blocked.logical_or(k_pos <= q_pos - window);
  return at::zeros({t, total}, at::TensorOptions(at::kFloat).device(device))
      .masked_fill(blocked, -std::numeric_limits<float>::infinity());
}

// The mask of each query row of the stacked grouped heads, [b·kv_heads, group·t, total]; with
// left padding, each sequence also blocks its padding slots.
at::Tensor grouped_mask(const at::Tensor& mask, const LayerKVCache* cache, int64_t b, int64_t kv_heads,
                        int64_t group) {
  const int64_t t = mask.size(0), total = mask.size(1);
  if (!cache || !cache->left_pad.defined()) return mask.repeat({group, 1}).expand({b * kv_heads, group * t, total});
  const at::Tensor slots = at::arange(total, at::TensorOptions(at::kLong).device(mask.device()));
  const at::Tensor padding = slots.view({1, 1, total}) < cache->left_pad.to(mask.device()).view({b, 1, 1});
  return mask.unsqueeze(0).masked_fill(padding, -std::numeric_limits<float>::infinity())
      .repeat({1, group, 1}).unsqueeze(1).expand({b, kv_heads, group * t, total})
      .reshape({b * kv_heads, group * t, total});
}

// Hands input `name` to the capture; true when the forward ends there (decoder_layer_forward's stop_after).
bool deliver(const CaptureFn& capture, const char* name, const at::Tensor& x, const char* stop_after) {
  if (capture) capture(name, x);
  return stop_after && !std::strcmp(stop_after, name);
}

// Queries q [b, heads, t, d] at positions start_pos.. attend to k, v [b, kv_heads, total, d]:
// [b, heads, t, d].
// Grouped-query attention without repeating K/V: the `group` query heads that share a KV head
// are stacked along the query axis. Scale and mask are fused into one batched GEMM, and the
// softmax runs in place: attention is memory-bound at small head sizes.
at::Tensor attend(const ModelConfig& c, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  int64_t start_pos, int64_t window, const LayerKVCache* cache) {
  const int64_t b = q.size(0), t = q.size(2), d = q.size(3), kv_heads = k.size(1), group = q.size(1) / kv_heads;
  const int64_t total = k.size(2);
  at::Tensor qg = q.reshape({b * kv_heads, group * t, d});
  at::Tensor kt = k.reshape({b * kv_heads, total, d}).transpose(1, 2);
  at::Tensor mask = attention_mask(t, total, start_pos, window, q.device()).to(q.scalar_type());
  const at::Tensor group_mask = grouped_mask(mask, cache, b, kv_heads, group);
  const double scale = c.query_scale > 0 ? c.query_scale : 1.0 / std::sqrt(static_cast<double>(d));
  // A soft cap goes between scaling and masking, so it cannot be fused.
  at::Tensor scores = c.attn_softcap > 0 ? soft_cap(at::bmm(qg, kt) * scale, c.attn_softcap) + group_mask
                                         : at::baddbmm(group_mask, qg, kt, /*beta=*/1.0, /*alpha=*/scale);
  // Autograd cannot differentiate the in-place (out=) softmax, so training takes the plain one.
  at::Tensor probs = scores.scalar_type() != at::kFloat ? at::softmax(scores, -1, at::kFloat).to(v.scalar_type())
                     : scores.requires_grad()           ? at::softmax(scores, -1)
                                                        : at::softmax_out(scores, scores, -1);
  return at::bmm(probs, v.reshape({b * kv_heads, total, d})).view({b, q.size(1), t, d});
}

// attend() over blocks of queries, each block's f32 scores within attention_score_bytes.
at::Tensor attend_in_blocks(const ModelConfig& c, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t start_pos, int64_t window, const LayerKVCache* cache) {
  const int64_t t = q.size(2), score_row_bytes = q.size(0) * q.size(1) * k.size(2) * int64_t{sizeof(float)};
  const int64_t block = std::max<int64_t>(1, attention_score_bytes / std::max<int64_t>(1, score_row_bytes));
  if (block >= t) return attend(c, q, k, v, start_pos, window, cache);
  std::vector<at::Tensor> outputs;
  for (int64_t s = 0; s < t; s += block)
    outputs.push_back(attend(c, q.narrow(2, s, std::min(block, t - s)), k, v, start_pos + s, window, cache));
  return at::cat(outputs, 2);
}

at::Tensor self_attention(const ModelConfig& c, const DecoderLayerWeights& w, RotaryEmbedding& rope,
                          const at::Tensor& x, int64_t start_pos, LayerKVCache* cache,
                          const CaptureFn& capture, const char* stop_after) {
  const int64_t b = x.size(0), t = x.size(1), d = c.head_dim;
  const int64_t kv_heads = c.num_kv_heads;
  at::Tensor q, k, v;
  if (w.qkv.defined()) {
    const std::vector<at::Tensor> parts = linear(x, w.qkv, w.qkv_bias).split_with_sizes({c.q_size(), c.kv_size(), c.kv_size()}, -1);
    q = parts[0], k = parts[1], v = parts[2];
  } else {
    q = linear(x, w.q, w.q_bias), k = linear(x, w.k, w.k_bias), v = linear(x, w.v, w.v_bias);
  }
  q = q.reshape({b, t, c.num_heads, d}).transpose(1, 2);
  k = k.reshape({b, t, kv_heads, d}).transpose(1, 2);
  v = v.reshape({b, t, kv_heads, d}).transpose(1, 2);
  if (w.q_norm.defined()) {
    q = rms_norm(c, q, w.q_norm);
    k = rms_norm(c, k, w.k_norm);
  }
  const bool sliding = w.attention_window > 0;
  if (cache && cache->left_pad.defined()) {
    const at::Tensor positions = at::arange(start_pos, start_pos + t, at::kLong).unsqueeze(0) -
                                 cache->left_pad.cpu().unsqueeze(1);
    q = rope.apply(q, positions, sliding);
    k = rope.apply(k, positions, sliding);
  } else {
    q = rope.apply(q, start_pos, sliding);
    k = rope.apply(k, start_pos, sliding);
  }
  if (cache) {
    if (cache->k.defined()) {
      k = at::cat({cache->k, k}, 2);
      v = at::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  at::Tensor out = attend_in_blocks(c, q, k, v, start_pos, w.attention_window, cache)
                       .transpose(1, 2).reshape({b, t, c.num_heads * d});
  if (deliver(capture, "o_in", out, stop_after)) return {};
  return linear(out, w.o, w.o_bias);
}

at::Tensor mlp(const ModelConfig& c, const DecoderLayerWeights& w, const at::Tensor& x, const CaptureFn& capture,
               const char* stop_after) {
  at::Tensor gate, up;
  if (w.gate_up.defined()) {
    const std::vector<at::Tensor> halves = linear(x, w.gate_up, w.gate_up_bias).chunk(2, -1);
    gate = halves[0], up = halves[1];
  } else {
    gate = linear(x, w.gate, w.gate_bias), up = linear(x, w.up, w.up_bias);
  }
  at::Tensor h;
  if (gate.requires_grad() || up.requires_grad()) {
    h = (c.gelu_mlp ? at::gelu(gate, "tanh") : at::silu(gate)) * up;
  } else {
    // In place, the same kernels and bits: two [tokens, ffn] activations at the peak instead of
    // four (1 GiB at a 1B model's 8 × 2048-token calibration batch in bf16).
    h = c.gelu_mlp ? at::gelu(gate, "tanh") : at::silu_(gate);
    gate = at::Tensor();
    h.mul_(up);
    if (!h.is_contiguous()) h = h.contiguous();  // a half of a fused gate_up projection
  }
  if (deliver(capture, "down_in", h, stop_after)) return {};
  return linear(h, w.down, w.down_bias);
}

}  // namespace

at::Tensor attention_block_forward(const ModelConfig& config, const DecoderLayerWeights& w, RotaryEmbedding& rope,
                                   const at::Tensor& attn_in) {
  return self_attention(config, w, rope, attn_in, 0, nullptr, {}, nullptr);
}

at::Tensor mlp_block_forward(const ModelConfig& config, const DecoderLayerWeights& w, const at::Tensor& mlp_in) {
  return mlp(config, w, mlp_in, {}, nullptr);
}

at::Tensor decoder_layer_forward(const ModelConfig& config, const DecoderLayerWeights& w,
                                 RotaryEmbedding& rope, const at::Tensor& hidden, int64_t start_pos,
                                 LayerKVCache* cache, const CaptureFn& capture, const char* stop_after) {
  at::Tensor attn_in = rms_norm(config, hidden, w.input_norm);
  if (deliver(capture, "attn_in", attn_in, stop_after)) return {};
  at::Tensor attn_out = self_attention(config, w, rope, attn_in, start_pos, cache, capture, stop_after);
  if (!attn_out.defined()) return {};
  if (w.attn_output_norm.defined()) attn_out = rms_norm(config, attn_out, w.attn_output_norm);
  at::Tensor h = hidden + attn_out;
  at::Tensor mlp_in = rms_norm(config, h, w.post_attention_norm);
  if (deliver(capture, "mlp_in", mlp_in, stop_after)) return {};
  at::Tensor mlp_out = mlp(config, w, mlp_in, capture, stop_after);
  if (!mlp_out.defined()) return {};
  if (w.mlp_output_norm.defined()) mlp_out = rms_norm(config, mlp_out, w.mlp_output_norm);
  return h + mlp_out;
}

}  // namespace mp
