#include "lib/runtime/gguf_model_source.h"

#include <cmath>

#include "formats/gguf_keys.h"
#include "formats/gguf_rows.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/runtime/gguf_tokenizer.h"
#include "lib/runtime/tensor_shapes.h"

namespace mp {

namespace {

// The keys llama.cpp reads for an architecture of lib/arch/, as the HF config.json they stand for.
nlohmann::json config_json(const GgufFile& f) {
  const std::string arch = gguf_required(f, "general.architecture").as_string();
  const Architecture& family = architecture_for_gguf(arch, f.path());
  auto u = [&](const std::string& key) { return gguf_integer(f, arch + "." + key, gguf_required(f, arch + "." + key)); };
  auto opt = [&](const std::string& key, const nlohmann::json& fallback) -> nlohmann::json {
    const GgufValue* v = f.find(key);
    if (!v) return fallback;
    return v->type() == GgufType::FLOAT32 || v->type() == GgufType::FLOAT64 ? nlohmann::json(v->as_float())
                                                                            : nlohmann::json(gguf_integer(f, key, *v));
  };
  const int64_t heads = u("attention.head_count");
  const int64_t hidden = u("embedding_length");
  const size_t vocab = gguf_required(f, "tokenizer.ggml.tokens").as_array().size();
  nlohmann::json j{
      {"model_type", family.model_type()},
      {"hidden_size", hidden},
      {"intermediate_size", u("feed_forward_length")},
      {"num_hidden_layers", u("block_count")},
      {"num_attention_heads", heads},
      {"num_key_value_heads", opt(arch + ".attention.head_count_kv", heads)},
      {"head_dim", opt(arch + ".attention.key_length", heads > 0 ? hidden / heads : 0)},
      {"vocab_size", opt(arch + ".vocab_size", vocab)},
      {"max_position_embeddings", opt(arch + ".context_length", 2048)},
      {"rms_norm_eps", gguf_required(f, arch + ".attention.layer_norm_rms_epsilon").as_float()},
      {"rope_theta", opt(arch + ".rope.freq_base", 10000.0)},
      {"tie_word_embeddings", f.find_tensor("output.weight") == nullptr},
      {"bos_token_id", opt("tokenizer.ggml.bos_token_id", 1)},
      {"eos_token_id", opt("tokenizer.ggml.eos_token_id", 2)},
  };
  if (const GgufValue* scaling = f.find(arch + ".rope.scaling.type")) {
    if (scaling->as_string() != "linear" && scaling->as_string() != "none")
      fail_input(f.path(), arch + ".rope.scaling.type \"" + scaling->as_string() + "\" is not supported (linear)");
    if (scaling->as_string() == "linear")
      j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", gguf_required(f, arch + ".rope.scaling.factor").as_float()}};
  }
  family.read_gguf(f, j);
  // Whole heads rotate unless the family reads a partial_rotary_factor (phi3); a file that rotates
  // another part of each head is another model.
  const int64_t head_dim = j["head_dim"].get<int64_t>();
  const int64_t expected = std::llround(head_dim * j.value("partial_rotary_factor", 1.0));
  const nlohmann::json rotated = opt(arch + ".rope.dimension_count", head_dim);
  if (rotated != expected)
    fail_input(f.path(), arch + ".rope.dimension_count is " + rotated.dump() + ", expected " +
                             (expected == head_dim ? "the head dimension " : "") + std::to_string(expected));
  return j;
}

// The types gguf_decode decodes to directly; others (f16) are cast from f32.
bool decodes_to(at::ScalarType dtype) { return dtype == at::kFloat || dtype == at::kBFloat16; }

// [indices..., columns]: what a lookup of `indices` in a 2-D tensor gives.
std::vector<int64_t> out_shape(const at::Tensor& indices, const GgufTensorInfo& info) {
  std::vector<int64_t> shape = indices.sizes().vec();
  shape.push_back(info.dims[0]);
  return shape;
}

}  // namespace

GgufModelSource::GgufModelSource(const std::string& path)
    : file_(path), config_(ModelConfig::from_json(config_json(file_), path)) {
  if (const GgufTensorInfo* freqs = file_.find_tensor(kGgufRopeFreqs)) {
    const at::Tensor factors = file_.tensor(*freqs).reshape({-1}).contiguous();
    if (factors.size(0) != config_.head_dim / 2)
      fail_input(path, std::string(kGgufRopeFreqs) + " has " + std::to_string(factors.size(0)) + " values, expected " +
                           std::to_string(config_.head_dim / 2));
    config_.rope_freq_factors.assign(factors.data_ptr<float>(), factors.data_ptr<float>() + factors.size(0));
  }
  for (const LlamaTensorName& name : llama_tensor_names(config_)) {
    const GgufTensorInfo* info = file_.find_tensor(name.gguf);
    if (info) names_.emplace(name.hf, name);
    else if (name.gguf != "output.weight") fail_input(path, "no tensor " + name.gguf);
  }
}

const LlamaTensorName& GgufModelSource::name_of(const std::string& name) const {
  const auto it = names_.find(name);
  if (it == names_.end()) fail_runtime(file_.path() + ": no tensor named " + name);
  return it->second;
}

at::Tensor GgufModelSource::tensor(const std::string& name) const { return tensor_as(name, at::kFloat); }

at::Tensor GgufModelSource::tensor_as(const std::string& name, at::ScalarType dtype) const {
  const LlamaTensorName& n = name_of(name);
  // An offset (Gemma's norms, stored as 1 + w) is subtracted in f32, then cast; so is f16 (CUDA).
  const at::ScalarType decoded = n.gguf_offset != 0 || !decodes_to(dtype) ? at::kFloat : dtype;
  at::Tensor t = gguf_decode(file_, *file_.find_tensor(n.gguf), decoded);
  check_tensor_shape(config_, name, t, file_.path() + ": " + n.gguf);
  if (n.gguf_offset != 0) t = t - n.gguf_offset;
  t = t.to(dtype);
  return n.permute_heads > 0 ? gguf_to_hf_rows(t, n.permute_heads) : t;
}

at::Tensor GgufModelSource::tensor_rows(const std::string& name, const at::Tensor& indices, at::ScalarType dtype) const {
  const LlamaTensorName& n = name_of(name);
  const GgufTensorInfo& info = *file_.find_tensor(n.gguf);
  if (info.dims.size() != 2) fail_runtime(file_.path() + ": rows of " + n.gguf + ", which is not a matrix");
  // Rows of q/k (permuted heads) are not stored as they are read: the whole path.
  if (n.gguf_offset != 0 || n.permute_heads > 0)
    return tensor_as(name, dtype).index_select(0, indices.reshape({-1}).to(at::kLong)).view(out_shape(indices, info));
  const std::vector<int64_t> shape = info.shape();
  if (const auto expected = expected_tensor_shape(config_, name); expected && *expected != shape)
    fail_input(file_.path() + ": " + n.gguf, "tensor '" + name + "' has shape " + c10::str(at::IntArrayRef(shape)) +
                                                 ", config implies " + c10::str(at::IntArrayRef(*expected)));
  return gguf_decode_rows(file_, info, indices, decodes_to(dtype) ? dtype : at::kFloat).to(dtype).view(out_shape(indices, info));
}

Tokenizer GgufModelSource::tokenizer() const { return gguf_tokenizer(file_); }

}  // namespace mp
