#include "formats/gguf_llama_names.h"

#include "lib/runtime/model_source.h"

namespace mp {

std::string gguf_architecture(const ModelConfig& c) { return c.model_type == "qwen2" ? "qwen2" : "llama"; }

std::vector<LlamaTensorName> llama_tensor_names(const ModelConfig& c) {
  std::vector<LlamaTensorName> names{{hf_names::embed, "token_embd.weight"}};
  const bool interleave = gguf_architecture(c) == "llama";
  struct Part {
    const char* hf;
    const char* gguf;
    bool present;
    int64_t heads;
  };
  // Alphabetical by HF suffix, as safetensors lists them (and so the converter emits them).
  const Part parts[] = {
      {"input_layernorm.weight", "attn_norm.weight", true, 0},
      {"mlp.down_proj.bias", "ffn_down.bias", c.mlp_bias, 0},
      {"mlp.down_proj.weight", "ffn_down.weight", true, 0},
      {"mlp.gate_proj.bias", "ffn_gate.bias", c.mlp_bias, 0},
      {"mlp.gate_proj.weight", "ffn_gate.weight", true, 0},
      {"mlp.up_proj.bias", "ffn_up.bias", c.mlp_bias, 0},
      {"mlp.up_proj.weight", "ffn_up.weight", true, 0},
      {"post_attention_layernorm.weight", "ffn_norm.weight", true, 0},
      {"self_attn.k_proj.bias", "attn_k.bias", c.qkv_bias, c.num_kv_heads},
      {"self_attn.k_proj.weight", "attn_k.weight", true, c.num_kv_heads},
      {"self_attn.o_proj.bias", "attn_output.bias", c.o_bias, 0},
      {"self_attn.o_proj.weight", "attn_output.weight", true, 0},
      {"self_attn.q_proj.bias", "attn_q.bias", c.qkv_bias, c.num_heads},
      {"self_attn.q_proj.weight", "attn_q.weight", true, c.num_heads},
      {"self_attn.v_proj.bias", "attn_v.bias", c.qkv_bias, 0},
      {"self_attn.v_proj.weight", "attn_v.weight", true, 0},
  };
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const Part& p : parts)
      if (p.present)
        names.push_back(
            {hf_names::layer(i, p.hf), "blk." + std::to_string(i) + "." + p.gguf, i, interleave ? p.heads : 0});
  names.push_back({hf_names::final_norm, "output_norm.weight"});
  if (!c.tie_word_embeddings) names.push_back({hf_names::lm_head, "output.weight"});
  return names;
}

namespace {
// Rows of each head are viewed as [2, half] (rotate-half) or [half, 2] (interleaved); swapping the
// two axes converts one into the other.
at::Tensor swap_head_axes(const at::Tensor& w, int64_t heads, bool from_halves) {
  const int64_t rows = w.size(0);
  const int64_t half = rows / heads / 2;
  std::vector<int64_t> view{heads, from_halves ? 2 : half, from_halves ? half : 2};
  for (int64_t d = 1; d < w.dim(); ++d) view.push_back(w.size(d));
  return w.reshape(view).transpose(1, 2).reshape(w.sizes()).contiguous();
}
}  // namespace

at::Tensor hf_to_gguf_rows(const at::Tensor& w, int64_t heads) { return swap_head_axes(w, heads, true); }
at::Tensor gguf_to_hf_rows(const at::Tensor& w, int64_t heads) { return swap_head_axes(w, heads, false); }

}  // namespace mp
