#include "lib/runtime/llama_model.h"

#include <map>

#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/runtime/compute_type.h"
#include "lib/runtime/model_ends.h"

namespace mp {

RuntimeOptions parse_runtime_options(const std::string& device, const std::string& dtype) {
  RuntimeOptions o;
  try {
    o.device = at::Device(device);
  } catch (const c10::Error&) {
    fail_input("--device", "unknown device '" + device + "' (use cpu or cuda[:N])");
  }
  if (o.device.is_cuda() && !at::hasCUDA())
    fail_input("--device", "'" + device + "' requested but this LibTorch build has no CUDA device available");
  if (!o.device.is_cpu() && !o.device.is_cuda())
    fail_input("--device", "unsupported device '" + device + "' (use cpu or cuda[:N])");
  if (dtype == "auto") o.dtype = auto_compute_type(o.device);
  else if (dtype == "f32" || dtype == "float32") o.dtype = at::kFloat;
  else if (dtype == "bf16" || dtype == "bfloat16") o.dtype = at::kBFloat16;
  else if (dtype == "f16" || dtype == "float16") o.dtype = at::kHalf;
  else fail_input("--dtype", "unknown compute type '" + dtype + "' (use auto, f32, bf16 or f16)");
  if (o.dtype == at::kHalf && o.device.is_cpu())
    fail_input("--dtype", "f16 compute is only supported on CUDA; use bf16 or f32 on CPU");
  return o;
}

LlamaModel::LlamaModel(std::shared_ptr<const ModelSource> source, RuntimeOptions options)
    : source_(std::move(source)), options_(options), rope_(source_->config()) {
  final_norm_ = place(source_->tensor(hf_names::final_norm));
}

at::Tensor LlamaModel::place(const at::Tensor& t) const {
  return t.to(options_.device, options_.dtype);
}

DecoderLayerWeights LlamaModel::load_layer(int64_t i) const {
  const auto& c = config();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const LayerTensor& t : architecture_of(c).layer_tensors(c)) shapes[t.hf] = t.shape;
  return assemble_layer(c, i, [&](const std::string& suffix) {
    const std::string name = hf_names::layer(i, suffix);
    if (!source_->has(name)) fail_input(source_->path(), "no tensor " + name + " (config.json implies it)");
    at::Tensor t = source_->tensor_as(name, options_.dtype);
    if (!t.sizes().equals(shapes.at(suffix)))
      fail_input(source_->path(), "layer " + std::to_string(i) + " " + suffix + " has shape " + c10::str(t.sizes()) +
                                      ", config.json implies " + c10::str(at::IntArrayRef(shapes.at(suffix))));
    return place(t);
  });
}

at::Tensor LlamaModel::embed(const at::Tensor& tokens) {
  return lookup_embeddings(*source_, tokens, options_.dtype, options_.device);
}

at::Tensor LlamaModel::run_layer(int64_t i, const at::Tensor& hidden, int64_t start_pos, KVCache* cache,
                                 const CaptureFn& capture) {
  LayerKVCache* layer_cache = nullptr;
  if (cache) {
    cache->resize(config().num_layers);
    layer_cache = &(*cache)[i];
  }
  at::Tensor out = decoder_layer_forward(config(), load_layer(i), rope_, hidden, start_pos, layer_cache, capture);
  release_layer_pages(*source_, i);
  return out;
}

at::Tensor LlamaModel::logits(const at::Tensor& hidden) {
  return chunked_logits(*source_, hidden, final_norm_, options_.dtype, head_chunk_rows(config()));
}

at::Tensor LlamaModel::forward(const at::Tensor& tokens, int64_t start_pos, KVCache* cache) {
  at::Tensor h = embed(tokens);
  for (int64_t i = 0; i < config().num_layers; ++i) h = run_layer(i, h, start_pos, cache);
  return logits(h);
}

int64_t cache_length(const KVCache& cache) {
  return cache.empty() || !cache[0].k.defined() ? 0 : cache[0].k.size(2);
}

void truncate_cache(KVCache& cache, int64_t length) {
  for (LayerKVCache& layer : cache)
    if (layer.k.defined() && layer.k.size(2) > length) {
      layer.k = layer.k.narrow(2, 0, length);
      layer.v = layer.v.narrow(2, 0, length);
    }
}

}  // namespace mp
