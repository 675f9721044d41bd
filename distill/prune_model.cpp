#include "distill/prune_model.h"

#include <filesystem>
#include <map>

#include "formats/safetensors.h"
#include "lib/arch/architecture.h"
#include "lib/base/atomic_output.h"
#include "lib/base/error.h"
#include "lib/pipeline/provenance.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

// What an axis of a decoder tensor indexes.
enum class Axis { none, hidden, ffn, query, kv };

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

// [out, in] axes of a linear by its HF suffix (without .weight/.bias).
std::pair<Axis, Axis> linear_axes(const std::string& linear) {
  if (linear == "self_attn.q_proj") return {Axis::query, Axis::hidden};
  if (linear == "self_attn.k_proj" || linear == "self_attn.v_proj") return {Axis::kv, Axis::hidden};
  if (linear == "self_attn.o_proj") return {Axis::hidden, Axis::query};
  if (linear == "mlp.gate_proj" || linear == "mlp.up_proj") return {Axis::ffn, Axis::hidden};
  if (linear == "mlp.down_proj") return {Axis::hidden, Axis::ffn};
  fail_runtime("prune: no rule for the axes of " + linear);
}

std::vector<Axis> tensor_axes(const LayerTensor& t, const ModelConfig& c) {
  if (t.kind == LayerTensor::Kind::norm)  // per-head q/k norms [head_dim] keep every entry
    return {t.shape[0] == c.hidden_size && !ends_with(t.hf, "q_norm.weight") && !ends_with(t.hf, "k_norm.weight")
                ? Axis::hidden
                : Axis::none};
  const bool bias = ends_with(t.hf, ".bias");
  const auto [out, in] = linear_axes(t.hf.substr(0, t.hf.size() - (bias ? 5 : 7)));
  if (bias) return {out};
  return {out, in};
}

at::Tensor index_tensor(const std::vector<int64_t>& indices) {
  return at::tensor(at::ArrayRef<int64_t>(indices), at::kLong);
}

// Rows of whole heads: head h owns rows [h·d, (h+1)·d).
at::Tensor head_rows(const std::vector<int64_t>& heads, int64_t head_dim) {
  std::vector<int64_t> rows;
  for (int64_t h : heads)
    for (int64_t r = 0; r < head_dim; ++r) rows.push_back(h * head_dim + r);
  return index_tensor(rows);
}

at::ScalarType stored_type(const ModelConfig& c) {
  const std::string type = c.raw.value("torch_dtype", "float32");
  return type == "bfloat16" ? at::kBFloat16 : type == "float16" ? at::kHalf : at::kFloat;
}

}  // namespace

KeptUnits choose_kept_units(const ModelConfig& c, const PruneImportance& imp, const PrunedShape& shape) {
  KeptUnits kept;
  kept.layers = most_important(at::tensor(imp.layer, at::kDouble), shape.layers);
  for (int64_t i : kept.layers) {
    kept.ffn.push_back(most_important(imp.ffn[i], shape.ffn));
    kept.groups.push_back(most_important(imp.group[i], shape.kv_heads));
  }
  kept.hidden = most_important(imp.hidden, shape.hidden);
  return kept;
}

void write_pruned_model(const ModelSource& source, const PrunedShape& shape, const KeptUnits& kept,
                        const nlohmann::json& report, const std::string& out) {
  const ModelConfig& c = source.config();
  ModelConfig pruned = pruned_config(c, shape, kept.layers);
  pruned.raw.erase("quantization_config");  // the output holds plain floats whatever the source held
  const at::ScalarType type = stored_type(c);
  const at::Tensor hidden = index_tensor(kept.hidden);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  auto keep = [&](const std::string& to, const std::string& from, std::vector<at::Tensor> indices) {
    at::Tensor t = source.tensor(from);
    for (size_t axis = 0; axis < indices.size(); ++axis)
      if (indices[axis].defined()) t = t.index_select(static_cast<int64_t>(axis), indices[axis]);
    tensors.emplace_back(to, t.to(type).contiguous());
    source.release(from);
  };
  keep(hf_names::embed, hf_names::embed, {at::Tensor(), hidden});
  const int64_t group_size = c.num_heads / c.num_kv_heads;
  const std::vector<LayerTensor> layer_tensors = architecture_of(c).layer_tensors(c);
  for (size_t j = 0; j < kept.layers.size(); ++j) {
    std::vector<int64_t> query_heads;
    for (int64_t g : kept.groups[j])
      for (int64_t h = 0; h < group_size; ++h) query_heads.push_back(g * group_size + h);
    const std::map<Axis, at::Tensor> index = {{Axis::hidden, hidden},
                                              {Axis::ffn, index_tensor(kept.ffn[j])},
                                              {Axis::query, head_rows(query_heads, c.head_dim)},
                                              {Axis::kv, head_rows(kept.groups[j], c.head_dim)},
                                              {Axis::none, at::Tensor()}};
    for (const LayerTensor& t : layer_tensors) {
      std::vector<at::Tensor> indices;
      for (Axis axis : tensor_axes(t, c)) indices.push_back(index.at(axis));
      keep(hf_names::layer(static_cast<int64_t>(j), t.hf), hf_names::layer(kept.layers[j], t.hf), indices);
    }
  }
  keep(hf_names::final_norm, hf_names::final_norm, {hidden});
  if (!c.tie_word_embeddings) keep(hf_names::lm_head, hf_names::lm_head, {at::Tensor(), hidden});

  AtomicDirectory dir(out);
  save_safetensors(dir.file("model.safetensors"), tensors, with_provenance({{"format", "pt"}}));
  write_file_atomically(dir.file("config.json"), pruned.raw.dump(2) + "\n");
  write_file_atomically(dir.file("prune_report.json"), report.dump(2) + "\n");
  const fs::path from = fs::is_directory(source.path()) ? fs::path(source.path()) : fs::path(source.path()).parent_path();
  for (const char* name : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                           "generation_config.json"})
    if (fs::exists(from / name)) fs::copy_file(from / name, fs::path(dir.file(name)));
  write_directory_manifest(dir.staging());
  dir.commit();
}

}  // namespace mp
