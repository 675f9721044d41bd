#include "formats/gguf_llama_names.h"

#include <algorithm>

#include "lib/arch/architecture.h"
#include "lib/runtime/model_source.h"

namespace mp {

std::string gguf_architecture(const ModelConfig& c) { return architecture_of(c).gguf_name(); }

std::vector<LlamaTensorName> llama_tensor_names(const ModelConfig& c) {
  const std::vector<int64_t> embedding{c.vocab_size, c.hidden_size};
  std::vector<LlamaTensorName> names{{hf_names::embed, "token_embd.weight", -1, 0, embedding}};
  std::vector<LayerTensor> layer = architecture_of(c).layer_tensors(c);
  // Alphabetical by HF suffix, as safetensors lists them (and so the converter emits them).
  std::sort(layer.begin(), layer.end(), [](const LayerTensor& a, const LayerTensor& b) { return a.hf < b.hf; });
  const float norm_offset = c.norm_adds_one ? 1.0f : 0.0f;
  for (int64_t i = 0; i < c.num_layers; ++i)
    for (const LayerTensor& t : layer)
      names.push_back({hf_names::layer(i, t.hf), "blk." + std::to_string(i) + "." + t.gguf, i, t.gguf_permute_heads,
                       t.shape, t.kind == LayerTensor::Kind::norm ? norm_offset : 0.0f});
  names.push_back({hf_names::final_norm, "output_norm.weight", -1, 0, {c.hidden_size}, norm_offset});
  if (!c.tie_word_embeddings) names.push_back({hf_names::lm_head, "output.weight", -1, 0, embedding});
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
