#include "distill/prune_importance.h"

#include <cstring>

namespace mp {

namespace {

// Sums over every token position: [B, T, n] -> [n] in f64.
at::Tensor token_sum(const at::Tensor& x) { return x.to(at::kDouble).sum(at::IntArrayRef{0, 1}); }

}  // namespace

PruneImportance measure_importance(LlamaModel& model, const at::Tensor& windows, int64_t batch,
                                   const std::function<void(int64_t)>& on_layer) {
  at::NoGradGuard no_grad;
  const ModelConfig& c = model.config();
  const int64_t group_size = c.num_heads / c.num_kv_heads;
  const double tokens = static_cast<double>(windows.numel());
  PruneImportance imp;
  imp.hidden = at::zeros({c.hidden_size}, at::kDouble);
  std::vector<at::Tensor> states;  // the hidden states entering the current layer, one per batch
  for (const at::Tensor& b : windows.split(batch)) states.push_back(model.embed(b));

  for (int64_t i = 0; i < c.num_layers; ++i) {
    const DecoderLayerWeights w = model.load_layer(i);
    at::Tensor ffn = at::zeros({c.intermediate_size}, at::kDouble);
    at::Tensor heads = at::zeros({c.num_heads}, at::kDouble);
    double turned = 0;
    const CaptureFn capture = [&](const char* input, const at::Tensor& x) {
      if (!std::strcmp(input, "down_in")) ffn += token_sum(x.abs());
      else if (!std::strcmp(input, "o_in"))
        heads += token_sum(x.reshape({x.size(0), x.size(1), c.num_heads, c.head_dim}).to(at::kFloat).norm(2, -1));
      else if (!std::strcmp(input, "attn_in") || !std::strcmp(input, "mlp_in")) imp.hidden += token_sum(x.abs());
    };
    for (at::Tensor& h : states) {
      at::Tensor out = decoder_layer_forward(c, w, model.rope(), h, /*start_pos=*/0, nullptr, capture);
      turned += (1 - at::cosine_similarity(h.to(at::kFloat), out.to(at::kFloat), -1)).to(at::kDouble).sum().item<double>();
      h = out;
    }
    release_layer_pages(model.source(), i);
    imp.layer.push_back(turned / tokens);
    imp.ffn.push_back(ffn / tokens);
    imp.group.push_back(heads.reshape({c.num_kv_heads, group_size}).sum(1) / tokens);
    if (on_layer) on_layer(i);
  }
  imp.hidden /= tokens;
  return imp;
}

std::vector<int64_t> most_important(const at::Tensor& scores, int64_t keep) {
  // A stable sort keeps earlier units first among equal scores, so ties are reproducible.
  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const at::Tensor kept = std::get<0>(order.slice(0, 0, keep).sort());
  return std::vector<int64_t>(kept.data_ptr<int64_t>(), kept.data_ptr<int64_t>() + keep);
}

}  // namespace mp
