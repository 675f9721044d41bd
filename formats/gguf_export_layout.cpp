#include "formats/gguf_export_layout.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <numeric>

#include "formats/gguf_export_metadata.h"
#include "formats/gguf_writer.h"
#include "formats/imatrix_file.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/pipeline/provenance.h"
#include "lib/runtime/rope.h"

namespace mp {

namespace {

void check_supported(const ModelSource& source) {
  const std::string why = architecture_of(source.config()).gguf_unsupported(source.config());
  if (!why.empty()) fail_input(source.path(), "cannot export to GGUF: " + why);
}

std::string default_name(const ModelSource& source) {
  std::filesystem::path p(source.path());
  if (p.filename().empty()) p = p.parent_path();
  return p.stem().string();
}

// The rope tensors the converter generates from config.json: llama3's rope_freqs, longrope's long and
// short factors (in that order, which is also the map's).
std::map<std::string, std::vector<float>> generated_tensors(const ModelConfig& c) {
  if (c.llama3_rope) return {{kGgufRopeFreqs, llama3_rope_freq_factors(c)}};
  if (c.longrope) return {{"rope_factors_long.weight", c.longrope->long_factor}, {"rope_factors_short.weight", c.longrope->short_factor}};
  return {};
}

}  // namespace

int64_t PlannedTensor::numel() const {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

uint64_t PlannedTensor::bytes() const {
  return ggml_row_bytes(type.used, shape.back()) * static_cast<uint64_t>(numel() / shape.back());
}

LoadedImatrix load_imatrix(const std::string& path) {
  if (path.empty()) return {};
  const ImportanceMatrix m = read_imatrix(path);
  LoadedImatrix out{m.importance(), {}};
  for (const auto& [name, values] : out.importance)
    for (float v : values)
      if (!std::isfinite(v)) fail_input(path, "weight '" + name + "' has a non-finite importance");
  out.metadata.emplace_back("quantize.imatrix.file", GgufValue::string(path));
  if (!m.datasets.empty()) out.metadata.emplace_back("quantize.imatrix.dataset", GgufValue::string(m.datasets[0]));
  out.metadata.emplace_back("quantize.imatrix.entries_count",
                            GgufValue::int32(static_cast<int32_t>(out.importance.size())));
  if (m.chunk_count > 0) out.metadata.emplace_back("quantize.imatrix.chunks_count", GgufValue::int32(m.chunk_count));
  return out;
}

const float* importance_for(const LoadedImatrix& imatrix, const std::string& path, const PlannedTensor& t) {
  const auto it = imatrix.importance.find(t.name.gguf);
  if (it == imatrix.importance.end()) return nullptr;
  if (static_cast<int64_t>(it->second.size()) == t.shape.back()) return it->second.data();
  if (t.name.gguf == "token_embd.weight") return nullptr;
  fail_input(path, "weight '" + t.name.gguf + "' has " + std::to_string(it->second.size()) +
                       " importance values for rows of " + std::to_string(t.shape.back()));
}

uint64_t GgufExportLayout::file_bytes() const {
  std::vector<GgufTensorInfo> infos;
  for (const PlannedTensor& t : tensors) {
    GgufTensorInfo info;
    info.name = t.name.gguf;
    info.dims.assign(t.shape.rbegin(), t.shape.rend());
    info.type = t.type.used;
    info.bytes = t.bytes();
    infos.push_back(std::move(info));
  }
  return gguf_file_bytes(metadata, std::move(infos));
}

GgufExportLayout plan_gguf_export(const ModelSource& source, const GgufExportOptions& options,
                                  const LoadedImatrix& imatrix) {
  check_supported(source);
  const ModelConfig& c = source.config();
  GgufExportLayout layout;
  auto add = [&](const LlamaTensorName& name, const std::vector<int64_t>& shape) {
    layout.tensors.push_back({name, shape,
                              choose_tensor_type(options.type, name, shape, c.num_layers, c.num_heads / c.num_kv_heads,
                                                 c.tie_word_embeddings, !options.imatrix.empty())});
    layout.parameters += layout.tensors.back().numel();
  };
  // The converter yields its generated tensors before the checkpoint's.
  layout.generated = generated_tensors(c);
  for (const auto& [name, values] : layout.generated) {
    const std::vector<int64_t> shape{static_cast<int64_t>(values.size())};
    add({"", name, -1, 0, shape, 0.0f}, shape);
  }
  for (const LlamaTensorName& name : llama_tensor_names(c)) {
    if (!source.has(name.hf)) fail_input(source.path(), "model has no tensor '" + name.hf + "'");
    add(name, name.shape);
  }
  layout.metadata = llama_gguf_metadata(source, options.name.empty() ? default_name(source) : options.name,
                                        layout.parameters, options.type.file_type, options.pre);
  for (const auto& [key, value] : imatrix.metadata) layout.metadata.emplace_back(key, value);
  if (options.provenance_keys)
    for (const auto& [key, value] : Provenance::current().stamp())
      layout.metadata.emplace_back("general.modelpress." + key, GgufValue::string(value));
  return layout;
}

}  // namespace mp
