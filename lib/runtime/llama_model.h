// A Llama-family model ready to run: weights come from a ModelSource, a decoder layer at a time.
// Decoder layers are streamed: a layer is converted (dequantized, cast) to the compute device and
// type only while it runs and dropped after, so memory holds the source's stored form (a memory
// map) plus one layer in the compute type, never the whole model in it. The token embedding and the
// LM head stay stored too: a lookup converts only its tokens' rows and the logits take the head a
// chunk of rows at a time (lib/runtime/model_ends.h); only the final norm is held converted.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "lib/runtime/decoder_layer.h"
#include "lib/runtime/model_source.h"
#include "lib/runtime/rope.h"

namespace mp {

struct RuntimeOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;  // compute type: f32 or bf16 (f16 on CUDA)
};

// Parses "--device cpu|cuda[:N]" and "--dtype f32|bf16|f16"; fails with a clear message when the
// device is unavailable in this LibTorch build.
RuntimeOptions parse_runtime_options(const std::string& device, const std::string& dtype);

using KVCache = std::vector<LayerKVCache>;
// Positions the cache holds (0 when empty).
int64_t cache_length(const KVCache& cache);
// Forgets every position from `length` on, in every layer: speculative decoding's rollback of
// rejected draft tokens.
void truncate_cache(KVCache& cache, int64_t length);

class LlamaModel {
 public:
  LlamaModel(std::shared_ptr<const ModelSource> source, RuntimeOptions options);

  const ModelConfig& config() const { return source_->config(); }
  const ModelSource& source() const { return *source_; }
  const RuntimeOptions& options() const { return options_; }

  at::Tensor embed(const at::Tensor& tokens);               // [B, T] int64 -> [B, T, hidden]
  at::Tensor run_layer(int64_t i, const at::Tensor& hidden, int64_t start_pos,
                       KVCache* cache = nullptr, const CaptureFn& capture = {});
  at::Tensor logits(const at::Tensor& hidden);               // final norm + LM head, f32
  at::Tensor forward(const at::Tensor& tokens, int64_t start_pos = 0, KVCache* cache = nullptr);

  DecoderLayerWeights load_layer(int64_t i) const;  // fresh from the source, compute placement
  RotaryEmbedding& rope() { return rope_; }

 private:
  at::Tensor place(const at::Tensor& t) const;
  std::shared_ptr<const ModelSource> source_;
  RuntimeOptions options_;
  RotaryEmbedding rope_;
  at::Tensor final_norm_;
};

}  // namespace mp
