#include "quant/collect_imatrix.h"

#include <map>

#include "formats/gguf_llama_names.h"
#include "lib/base/error.h"

namespace mp {

namespace {

// Σ x² per input column, summed in double (llama-imatrix sums in float, token by token).
class ColumnSquares {
 public:
  // x: [..., in], the input every weight in `weights` multiplies.
  void add(const std::vector<std::string>& weights, const at::Tensor& x) {
    const at::Tensor column_sums = x.to(at::kDouble).pow(2).reshape({-1, x.size(-1)}).sum(0);
    for (const std::string& weight : weights) {
      at::Tensor& sum = sums_[weight];
      sum = sum.defined() ? sum + column_sums : column_sums;
      counts_[weight] += x.numel() / x.size(-1);
    }
  }
  ImportanceMatrix finish(const ImatrixOptions& options, int64_t chunks) const {
    ImportanceMatrix m;
    m.chunk_count = static_cast<int32_t>(chunks);
    m.chunk_size = static_cast<int32_t>(options.ctx);
    if (!options.dataset.empty()) m.datasets.push_back(options.dataset);
    for (const auto& [weight, sum] : sums_) {
      const at::Tensor f = sum.to(at::kFloat).contiguous();
      m.entries[weight] = {std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel()),
                           {counts_.at(weight)}};
    }
    return m;
  }

 private:
  std::map<std::string, at::Tensor> sums_;
  std::map<std::string, int64_t> counts_;
};

}  // namespace

int64_t imatrix_chunk_count(int64_t tokens, const ImatrixOptions& options, const std::string& text_path) {
  if (options.ctx < 16) fail_input("--ctx", "must be at least 16 tokens (llama-imatrix ignores smaller batches)");
  const int64_t whole = tokens / options.ctx;
  if (whole < 2)
    fail_input(text_path, std::to_string(tokens) + " tokens are fewer than two chunks of " + std::to_string(options.ctx));
  return options.max_chunks < 0 ? whole : std::min(whole, options.max_chunks);
}

ImportanceMatrix collect_imatrix(LlamaModel& model, const std::vector<int32_t>& tokens,
                                 const ImatrixOptions& options, const std::string& text_path,
                                 const std::function<void(int64_t)>& on_chunk) {
  const ModelConfig& c = model.config();
  const int64_t chunks = imatrix_chunk_count(static_cast<int64_t>(tokens.size()), options, text_path);
  std::map<std::string, std::string> gguf_name;  // HF weight name -> GGUF name
  for (const LlamaTensorName& t : llama_tensor_names(c)) gguf_name[t.hf] = t.gguf;
  // A tied output matrix is token_embd in llama.cpp's graph, which llama-imatrix never collects.
  const bool output = options.process_output && gguf_name.count(hf_names::lm_head);
  const at::Tensor final_norm = output ? model.source().tensor(hf_names::final_norm) : at::Tensor();

  ColumnSquares squares;
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    std::vector<int64_t> ids(tokens.begin() + chunk * options.ctx, tokens.begin() + (chunk + 1) * options.ctx);
    ids[0] = c.bos_token_id;
    at::Tensor hidden = model.embed(at::tensor(ids).unsqueeze(0));
    for (int64_t layer = 0; layer < c.num_layers; ++layer) {
      const CaptureFn capture = [&](const char* input, const at::Tensor& x) {
        std::vector<std::string> weights;
        for (const LinearGroup& group : decoder_linear_groups(c))
          if (std::string(group.input) == input)
            for (const std::string& linear : group.linears)
              weights.push_back(gguf_name.at(hf_names::layer(layer, linear + ".weight")));
        squares.add(weights, x);
      };
      hidden = model.run_layer(layer, hidden, 0, nullptr, capture);
    }
    if (output)
      squares.add({"output.weight"}, rms_norm(hidden.to(at::kFloat), final_norm.to(at::kFloat), c.rms_norm_eps));
    if (on_chunk) on_chunk(chunk + 1);
  }
  return squares.finish(options, chunks);
}

}  // namespace mp
