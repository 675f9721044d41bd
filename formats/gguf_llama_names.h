// How a Hugging Face Llama checkpoint maps onto llama.cpp's GGUF tensors: names, and the row order
// of the q/k projections. HF stores q/k rows in "rotate-half" order (the two halves of every head
// are the rotated pairs); llama.cpp's rope pairs adjacent rows, so convert_hf_to_gguf interleaves
// the halves of each head. Exporter and GGUF reader share this file so the two directions agree.
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "formats/hf_config.h"

namespace mp {

struct LlamaTensorName {
  std::string hf;    // "model.layers.3.self_attn.q_proj.weight"
  std::string gguf;  // "blk.3.attn_q.weight"
  int64_t layer = -1;  // -1 for the embedding, final norm and output
  // Heads whose rows are interleaved between the two layouts (q: num_heads, k: num_kv_heads); 0: none.
  int64_t permute_heads = 0;
  std::vector<int64_t> shape;  // as config.json implies it, HF's order ([out, in] for a linear)
  // What the GGUF value adds to the HF one: 1 for gemma's norms, stored by HF as w of a (1 + w) scale
  // and by llama.cpp's converter as 1 + w.
  float gguf_offset = 0;
};

// llama.cpp's architecture for a config (lib/arch/): "llama" for llama and mistral, "qwen2", "qwen3".
// It names the metadata keys' prefix.
std::string gguf_architecture(const ModelConfig& config);

// llama3 rope scaling's per-dimension factors, a tensor of the GGUF file, not of the HF checkpoint.
inline const char* kGgufRopeFreqs = "rope_freqs.weight";

// Every tensor of the model, in the order llama.cpp's converter writes them for a checkpoint whose
// tensors are stored sorted by name: token_embd, then per layer the architecture's tensors by HF name
// in alphabetical order, then output_norm and (untied) output.
std::vector<LlamaTensorName> llama_tensor_names(const ModelConfig& config);

// HF rotate-half rows -> llama.cpp interleaved rows, and back. `w` is [heads * head_dim, ...].
at::Tensor hf_to_gguf_rows(const at::Tensor& w, int64_t heads);
at::Tensor gguf_to_hf_rows(const at::Tensor& w, int64_t heads);

}  // namespace mp
