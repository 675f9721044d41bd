// The layer layout the Llama-derived families share (llama, mistral, qwen2, qwen3): pre-norm
// attention and SwiGLU MLP with separate q/k/v/o and gate/up/down projections, biases where the
// config says so. A family builds on it and adds what is its own.
#pragma once
#include "lib/arch/architecture.h"

namespace mp {

// Tensors in data-flow order; q/k rows permuted for GGUF when `permute_qk` (llama.cpp's "llama").
std::vector<LayerTensor> llama_layout_tensors(const ModelConfig& c, bool permute_qk);

// qwen3's and gemma3's per-head q/k norms ([head_dim], llama.cpp's attn_q_norm/attn_k_norm).
std::vector<LayerTensor> qk_norm_tensors(const ModelConfig& c);

// HF's layer_types ("sliding_attention" / "full_attention" per layer) into c.sliding_layers; false
// when the config has none.
bool read_layer_types(const ConfigKeys& keys, ModelConfig& c);

// Qwen's window keys: sliding_window applies only with use_sliding_window, and then to the layers
// layer_types marks "sliding_attention", or without layer_types to layers from max_window_layers on.
void read_qwen_sliding_window(const ConfigKeys& keys, ModelConfig& c);

}  // namespace mp
