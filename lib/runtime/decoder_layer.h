// One decoder layer of the families in lib/arch/: x + Attn(RMSNorm(x)), then + MLP(RMSNorm(x)),
// with what a family adds (q/k norms, norms of the block outputs, a sliding window, soft caps) taken
// from its weights and config.
// Pure function of its weights, so quantizers can run a layer with replaced weights and record
// what each linear sees.
#pragma once
#include <ATen/ATen.h>

#include <functional>
#include <string>

#include "formats/hf_config.h"
#include "lib/arch/architecture.h"
#include "lib/runtime/rope.h"

namespace mp {

struct DecoderLayerWeights {
  at::Tensor input_norm, post_attention_norm;     // the attention's and the MLP's input norms
  at::Tensor q, k, v, o;                          // [out, in]
  at::Tensor q_bias, k_bias, v_bias, o_bias;      // undefined when absent
  at::Tensor gate, up, down;
  at::Tensor gate_bias, up_bias, down_bias;
  at::Tensor qkv, qkv_bias;                       // phi3: [q; k; v] rows in one linear (q, k, v undefined)
  at::Tensor gate_up, gate_up_bias;               // phi3: [gate; up] rows in one linear (gate, up undefined)
  at::Tensor q_norm, k_norm;                      // per-head RMSNorm weights [head_dim] (qwen3, gemma3)
  at::Tensor attn_output_norm, mlp_output_norm;   // gemma: norms of each block's output
  int64_t attention_window = 0;                   // this layer's sliding window; 0: none

  // Any tensor by its slot (LayerTensor::slot()): Llama's HF suffix within the layer
  // ("input_layernorm.weight", "self_attn.q_proj.bias"), or "attn_output_norm", "mlp_output_norm".
  at::Tensor& tensor(const std::string& suffix);
  const at::Tensor& tensor(const std::string& suffix) const;
  // Linears by their HF suffix ("self_attn.q_proj", "mlp.down_proj", ...).
  at::Tensor& linear(const std::string& suffix);
  at::Tensor& bias(const std::string& suffix);
  const at::Tensor& linear(const std::string& suffix) const;
  const at::Tensor& bias(const std::string& suffix) const;
};

// Layer `layer` of a model of this config: each tensor of its architecture from get(HF suffix).
DecoderLayerWeights assemble_layer(const ModelConfig& config, int64_t layer,
                                   const std::function<at::Tensor(const std::string& suffix)>& get);

// The linears of a layer of this config's family, grouped by shared input (Architecture::linear_groups).
const std::vector<LinearGroup>& decoder_linear_groups(const ModelConfig& config);

// Called with each shared linear input as it is computed: (group input name, [B, T, in]).
using CaptureFn = std::function<void(const char* input, const at::Tensor& x)>;

// Cached keys/values of one layer for incremental decoding: [B, kv_heads, T, head_dim].
// Sequences of different lengths decode together left-padded: sequence b's first left_pad[b] slots
// hold no token (no query sees them) and its positions start after them. Undefined: no padding.
struct LayerKVCache {
  at::Tensor k, v;
  at::Tensor left_pad;  // [B] int64
};

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool adds_one = false);
at::Tensor rms_norm(const ModelConfig& config, const at::Tensor& x, const at::Tensor& weight);  // the config's form
at::Tensor soft_cap(const at::Tensor& x, double cap);  // cap·tanh(x/cap); x when cap is 0

// The model's two ends, shared by the runtime and the trainable student: token embeddings (scaled
// where the config says so), and f32 logits from the last hidden states.
at::Tensor embed_tokens(const ModelConfig& config, const at::Tensor& embedding, const at::Tensor& tokens);
at::Tensor output_logits(const ModelConfig& config, const at::Tensor& hidden, const at::Tensor& final_norm,
                         const at::Tensor& head);

// The two blocks of a layer on their (already normalized) inputs, positions from 0: what AWQ's
// scale search compares before and after scaling.
at::Tensor attention_block_forward(const ModelConfig& config, const DecoderLayerWeights& w, RotaryEmbedding& rope,
                                   const at::Tensor& attn_in);
at::Tensor mlp_block_forward(const ModelConfig& config, const DecoderLayerWeights& w, const at::Tensor& mlp_in);

// Queries attend in blocks whose f32 scores take at most this many bytes: a calibration batch of
// 8 × 2048 tokens of a 1B model would otherwise hold 4 GiB of scores at once. Tests lower it.
inline int64_t attention_score_bytes = int64_t{256} << 20;

// hidden: [B, T, hidden] at positions start_pos.. ; returns the layer's output hidden states.
// With `stop_after` (a capture input name), the forward ends once that input has been captured and
// returns an undefined tensor: a quantizer that needs one group's inputs computes no more than that.
at::Tensor decoder_layer_forward(const ModelConfig& config, const DecoderLayerWeights& w,
                                 RotaryEmbedding& rope, const at::Tensor& hidden, int64_t start_pos,
                                 LayerKVCache* cache = nullptr, const CaptureFn& capture = {},
                                 const char* stop_after = nullptr);

}  // namespace mp
