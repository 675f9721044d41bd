#include "lib/runtime/llama_model.h"

#include "lib/base/error.h"

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
  if (dtype == "f32" || dtype == "float32") o.dtype = at::kFloat;
  else if (dtype == "bf16" || dtype == "bfloat16") o.dtype = at::kBFloat16;
  else if (dtype == "f16" || dtype == "float16") o.dtype = at::kHalf;
  else fail_input("--dtype", "unknown compute type '" + dtype + "' (use f32, bf16 or f16)");
  if (o.dtype == at::kHalf && o.device.is_cpu())
    fail_input("--dtype", "f16 compute is only supported on CUDA; use bf16 or f32 on CPU");
  return o;
}

LlamaModel::LlamaModel(std::shared_ptr<const ModelSource> source, RuntimeOptions options)
    : source_(std::move(source)), options_(options), rope_(source_->config()) {
  const auto& c = config();
  embed_ = place(source_->tensor(hf_names::embed));
  final_norm_ = place(source_->tensor(hf_names::final_norm));
  lm_head_ = c.tie_word_embeddings || !source_->has(hf_names::lm_head) ? embed_ : place(source_->tensor(hf_names::lm_head));
  layers_.resize(c.num_layers);
  loaded_.assign(c.num_layers, false);
}

at::Tensor LlamaModel::place(const at::Tensor& t) const {
  return t.to(options_.device, options_.dtype);
}

DecoderLayerWeights LlamaModel::load_layer(int64_t i) const {
  const auto& c = config();
  auto get = [&](const std::string& suffix) { return place(source_->tensor(hf_names::layer(i, suffix))); };
  auto maybe = [&](const std::string& suffix) {
    const std::string name = hf_names::layer(i, suffix);
    return source_->has(name) ? place(source_->tensor(name)) : at::Tensor();
  };
  DecoderLayerWeights w;
  w.input_norm = get("input_layernorm.weight");
  w.post_attention_norm = get("post_attention_layernorm.weight");
  for (const auto& group : decoder_linear_groups())
    for (const auto& linear : group.linears) {
      w.linear(linear) = get(linear + ".weight");
      w.bias(linear) = maybe(linear + ".bias");
    }
  auto expect = [&](const at::Tensor& t, int64_t rows, int64_t cols, const char* name) {
    if (t.dim() != 2 || t.size(0) != rows || t.size(1) != cols)
      fail_input(source_->path(), "layer " + std::to_string(i) + " " + name + " has shape " +
                                      c10::str(t.sizes()) + ", config.json implies [" + std::to_string(rows) +
                                      ", " + std::to_string(cols) + "]");
  };
  expect(w.q, c.q_size(), c.hidden_size, "q_proj");
  expect(w.k, c.kv_size(), c.hidden_size, "k_proj");
  expect(w.v, c.kv_size(), c.hidden_size, "v_proj");
  expect(w.o, c.hidden_size, c.q_size(), "o_proj");
  expect(w.gate, c.intermediate_size, c.hidden_size, "gate_proj");
  expect(w.up, c.intermediate_size, c.hidden_size, "up_proj");
  expect(w.down, c.hidden_size, c.intermediate_size, "down_proj");
  if (c.qkv_bias && !(w.q_bias.defined() && w.k_bias.defined() && w.v_bias.defined()))
    fail_input(source_->path(), "layer " + std::to_string(i) + ": config.json implies q/k/v biases but they are missing");
  return w;
}

const DecoderLayerWeights& LlamaModel::layer(int64_t i) {
  if (!loaded_.at(i)) {
    layers_[i] = load_layer(i);
    loaded_[i] = true;
  }
  return layers_[i];
}

void LlamaModel::set_layer(int64_t i, DecoderLayerWeights weights) {
  layers_.at(i) = std::move(weights);
  loaded_[i] = true;
}

void LlamaModel::release_layer(int64_t i) {
  layers_.at(i) = DecoderLayerWeights();
  loaded_[i] = false;
}

at::Tensor LlamaModel::embed(const at::Tensor& tokens) {
  return at::embedding(embed_, tokens.to(options_.device, at::kLong));
}

at::Tensor LlamaModel::run_layer(int64_t i, const at::Tensor& hidden, int64_t start_pos, KVCache* cache,
                                 const CaptureFn& capture) {
  LayerKVCache* layer_cache = nullptr;
  if (cache) {
    cache->resize(config().num_layers);
    layer_cache = &(*cache)[i];
  }
  return decoder_layer_forward(config(), layer(i), rope_, hidden, start_pos, layer_cache, capture);
}

at::Tensor LlamaModel::logits(const at::Tensor& hidden) {
  return at::linear(rms_norm(hidden, final_norm_, config().rms_norm_eps), lm_head_).to(at::kFloat);
}

at::Tensor LlamaModel::forward(const at::Tensor& tokens, int64_t start_pos, KVCache* cache) {
  at::Tensor h = embed(tokens);
  for (int64_t i = 0; i < config().num_layers; ++i) h = run_layer(i, h, start_pos, cache);
  return logits(h);
}

}  // namespace mp
