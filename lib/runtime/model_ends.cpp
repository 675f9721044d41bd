#include "lib/runtime/model_ends.h"

#include <algorithm>

#include "lib/runtime/decoder_layer.h"

namespace mp {

const char* head_tensor_name(const ModelSource& source) {
  return source.config().tie_word_embeddings || !source.has(hf_names::lm_head) ? hf_names::embed : hf_names::lm_head;
}

at::Tensor lookup_embeddings(const ModelSource& source, const at::Tensor& tokens, at::ScalarType dtype,
                             at::Device device) {
  // Each distinct token's row once, then the lookup among those rows: embed_tokens' own path, so the
  // values (and the scaling) are the whole-matrix lookup's.
  const auto [distinct, position] = at::_unique(tokens.cpu().to(at::kLong), /*sorted=*/true, /*return_inverse=*/true);
  const at::Tensor rows = source.tensor_rows(hf_names::embed, distinct, dtype).to(device);
  return embed_tokens(source.config(), rows, position.view(tokens.sizes()));
}

int64_t head_chunk_rows(const ModelConfig& config) {
  return std::max<int64_t>(1, (int64_t{16} << 20) / (4 * config.hidden_size));
}

at::Tensor chunked_logits(const ModelSource& source, const at::Tensor& hidden, const at::Tensor& final_norm,
                          at::ScalarType dtype, int64_t chunk_rows) {
  const ModelConfig& c = source.config();
  const char* head = head_tensor_name(source);
  std::vector<int64_t> shape = hidden.sizes().vec();
  shape.back() = c.vocab_size;
  at::Tensor out = at::empty(shape, hidden.options().dtype(at::kFloat));
  for (int64_t start = 0; start < c.vocab_size; start += chunk_rows) {
    const int64_t n = std::min(chunk_rows, c.vocab_size - start);
    const at::Tensor rows = source.tensor_rows(head, at::arange(start, start + n, at::kLong), dtype).to(hidden.device());
    // output_logits normalizes again for every chunk: a [tokens, hidden] pass, small beside the
    // chunk's product, and the same values each time.
    out.narrow(-1, start, n).copy_(output_logits(c, hidden, final_norm, rows));
  }
  return out;
}

}  // namespace mp
