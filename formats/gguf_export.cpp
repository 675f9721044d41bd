#include "formats/gguf_export.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>

#include "formats/gguf_block_grid.h"
#include "formats/gguf_export_metadata.h"
#include "formats/gguf_from_codes.h"
#include "formats/gguf_stored_grids.h"
#include "formats/gguf_writer.h"
#include "lib/arch/architecture.h"
#include "formats/imatrix_file.h"
#include "lib/base/error.h"
#include "lib/base/progress.h"
#include "lib/pipeline/provenance.h"
#include "lib/runtime/rope.h"

namespace mp {

namespace {

struct PlannedTensor {
  LlamaTensorName name;
  std::vector<int64_t> shape;
  TensorTypeChoice type;
};

void check_supported(const ModelSource& source) {
  const std::string why = architecture_of(source.config()).gguf_unsupported(source.config());
  if (!why.empty()) fail_input(source.path(), "cannot export to GGUF: " + why);
}

std::string default_name(const ModelSource& source) {
  std::filesystem::path p(source.path());
  if (p.filename().empty()) p = p.parent_path();
  return p.stem().string();
}

// The importance matrix as llama-quantize reads it, with the metadata keys it adds to the file.
struct LoadedImatrix {
  std::map<std::string, std::vector<float>> importance;
  std::vector<std::pair<std::string, GgufValue>> metadata;
};

LoadedImatrix load_imatrix(const std::string& path) {
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

// A weight's importance vector, looked up by its GGUF name as llama-quantize does. A weight without an
// entry is quantized without one; a wrong-sized entry is an error except for token_embd, which
// llama-quantize skips because a tied output's entry has the other dimension.
const float* importance_for(const LoadedImatrix& imatrix, const std::string& path, const PlannedTensor& t) {
  const auto it = imatrix.importance.find(t.name.gguf);
  if (it == imatrix.importance.end()) return nullptr;
  if (static_cast<int64_t>(it->second.size()) == t.shape.back()) return it->second.data();
  if (t.name.gguf == "token_embd.weight") return nullptr;
  fail_input(path, "weight '" + t.name.gguf + "' has " + std::to_string(it->second.size()) +
                       " importance values for rows of " + std::to_string(t.shape.back()));
}

// A checkpoint tensor, in llama.cpp's row order. A GPTQ/AWQ linear keeps its codes when the planned
// type can hold them, and is re-quantized from its dequantized weights otherwise.
void write_weight(const ModelSource& source, const PlannedTensor& t, const float* importance, GgufWriter& writer,
                  GgufExportSummary& summary) {
  std::optional<QuantizedLinear> codes = source.quantized_linear(t.name.hf);
  if (codes && t.name.permute_heads > 0) {  // rows move with their codes and group parameters
    for (at::Tensor* rows : {&codes->codes, &codes->scales, &codes->zeros})
      *rows = hf_to_gguf_rows(*rows, t.name.permute_heads);
    if (const auto* grid = dynamic_cast<const GgufBlockGrid*>(codes->grid.get()))  // and a block grid's
      codes->grid = grid->bind(hf_to_gguf_rows(grid->stored(), t.name.permute_heads));
  }
  if (codes) {
    const GgufCodeCopy copy = copy_codes_to_gguf(*codes, t.type.used);
    summary.code_origins.push_back({t.name.gguf, !copy.bytes.empty(), copy.max_error, copy.why_not});
    if (!copy.bytes.empty()) return writer.write_tensor_bytes(copy.bytes.data(), copy.bytes.size());
  }
  at::Tensor values = codes ? codes->dequantize() : source.tensor(t.name.hf);
  if (values.sizes() != at::IntArrayRef(t.shape))
    fail_input(source.path(), "tensor '" + t.name.hf + "' does not have the shape config.json implies");
  if (!codes && t.name.permute_heads > 0) values = hf_to_gguf_rows(values, t.name.permute_heads);
  if (t.name.gguf_offset != 0) values = values + t.name.gguf_offset;
  writer.write_tensor(values, importance);
}

// The rope tensors the converter generates from config.json: llama3's rope_freqs, longrope's long and
// short factors (in that order, which is also the map's).
std::map<std::string, std::vector<float>> generated_tensors(const ModelConfig& c) {
  if (c.llama3_rope) return {{kGgufRopeFreqs, llama3_rope_freq_factors(c)}};
  if (c.longrope) return {{"rope_factors_long.weight", c.longrope->long_factor}, {"rope_factors_short.weight", c.longrope->short_factor}};
  return {};
}

}  // namespace

GgufExportSummary export_gguf(const ModelSource& source, const std::string& out_path,
                              const GgufExportOptions& options) {
  check_supported(source);
  if (!options.provenance_keys && out_path == "-")
    fail_input("--provenance", "'manifest' needs a file output: a GGUF streamed to stdout has no manifest beside it");
  const ModelConfig& c = source.config();
  const LoadedImatrix imatrix = options.imatrix.empty() ? LoadedImatrix{} : load_imatrix(options.imatrix);
  std::vector<PlannedTensor> plan;
  int64_t parameters = 0;
  auto add = [&](const LlamaTensorName& name, const std::vector<int64_t>& shape) {
    plan.push_back({name, shape,
                    choose_tensor_type(options.type, name, shape, c.num_layers, c.num_heads / c.num_kv_heads,
                                       c.tie_word_embeddings, !options.imatrix.empty())});
    parameters += std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
  };
  // The converter yields its generated tensors before the checkpoint's.
  const std::map<std::string, std::vector<float>> generated = generated_tensors(c);
  for (const auto& [name, values] : generated) {
    const std::vector<int64_t> shape{static_cast<int64_t>(values.size())};
    add({"", name, -1, 0, shape, 0.0f}, shape);
  }
  for (const LlamaTensorName& name : llama_tensor_names(c)) {
    if (!source.has(name.hf)) fail_input(source.path(), "model has no tensor '" + name.hf + "'");
    add(name, name.shape);
  }

  GgufExportSummary summary;
  summary.path = out_path;
  summary.type = options.type.name;
  summary.file_type = options.type.file_type;
  // Tensors on another file's stored grids are read through it (their codes, as quantized_linear).
  std::optional<StoredGridModel> on_stored_grids;
  if (!options.grid_from.empty()) {
    std::map<std::string, GgmlType> types;
    for (const PlannedTensor& t : plan)
      if (!t.name.hf.empty()) types[t.name.hf] = t.type.used;
    on_stored_grids.emplace(source, read_stored_grids(options.grid_from, c, types));
  }
  const ModelSource& input = on_stored_grids ? *on_stored_grids : source;
  summary.quantized_input = input.quantization_method();
  summary.imatrix = options.imatrix;

  GgufWriter writer(out_path);
  for (auto& [key, value] : llama_gguf_metadata(source, options.name.empty() ? default_name(source) : options.name,
                                                parameters, options.type.file_type, options.pre))
    writer.add_metadata(key, std::move(value));
  for (const auto& [key, value] : imatrix.metadata) writer.add_metadata(key, value);
  if (options.provenance_keys)
    for (const auto& [key, value] : Provenance::current().stamp())
      writer.add_metadata("general.modelpress." + key, GgufValue::string(value));
  std::map<std::string, int64_t> per_type;
  for (const PlannedTensor& t : plan) {
    writer.add_tensor(t.name.gguf, t.shape, t.type.used);
    const int64_t n = std::accumulate(t.shape.begin(), t.shape.end(), int64_t{1}, std::multiplies<>());
    summary.weights += n;
    summary.tensor_bytes += ggml_row_bytes(t.type.used, t.shape.back()) * (n / t.shape.back());
    ++per_type[ggml_type_name(t.type.used)];
    if (t.type.used != t.type.wanted)
      summary.fallbacks.push_back({t.name.gguf, t.type.wanted, t.type.used, t.type.why});
  }
  summary.tensors = static_cast<int64_t>(plan.size());
  summary.tensors_per_type.assign(per_type.begin(), per_type.end());

  Progress progress("export", static_cast<int64_t>(plan.size()), "tensors");
  for (const PlannedTensor& t : plan) {
    if (generated.count(t.name.gguf)) writer.write_tensor(at::tensor(generated.at(t.name.gguf)));
    else {
      const float* importance = importance_for(imatrix, options.imatrix, t);
      if (!options.imatrix.empty() && !importance && ggml_type_info(t.type.used).block_size > 1)
        summary.without_importance.push_back(t.name.gguf);
      write_weight(input, t, importance, writer, summary);
      input.release(t.name.hf);  // its mapped pages: an export holds one tensor, not the model
    }
    progress.advance(1, t.name.gguf);
  }
  writer.commit();
  if (out_path != "-") write_file_manifest(out_path);  // a stream has no place for one
  progress.finish();
  return summary;
}

std::string GgufCodeOrigin::describe(const std::string& method) const {
  if (!kept_codes) return "re-quantized (" + why_not + ")";
  if (max_error == 0) return "lossless from " + method;
  std::ostringstream out;
  out << method << " codes kept, fp16-rounded minimum: max |error| " << max_error;
  return out.str();
}

std::string GgufExportSummary::to_text() const {
  std::ostringstream out;
  out << path << ": GGUF " << type << " (file type " << file_type << "), " << tensors << " tensors, " << weights
      << " weights, " << tensor_bytes << " bytes of tensor data\n";
  out << "bits per weight: " << bits_per_weight() << "\n";
  out << "tensor types:";
  for (const auto& [t, n] : tensors_per_type) out << " " << t << " x" << n;
  out << "\n";
  if (fallbacks.empty()) out << "fallbacks: none\n";
  else out << "fallbacks (" << fallbacks.size() << "):\n";
  for (const GgufExportFallback& f : fallbacks)
    out << "  " << f.tensor << ": wanted " << ggml_type_name(f.wanted) << ", used " << ggml_type_name(f.used) << " ("
        << f.why << ")\n";
  if (!imatrix.empty()) {
    out << "importance matrix: " << imatrix << "; quantized without an entry:";
    for (const std::string& t : without_importance) out << " " << t;
    out << (without_importance.empty() ? " none\n" : "\n");
  }
  if (!code_origins.empty()) {
    int64_t lossless = 0, kept = 0;
    for (const GgufCodeOrigin& o : code_origins) {
      lossless += o.kept_codes && o.max_error == 0;
      kept += o.kept_codes;
    }
    out << quantized_input << " input: " << lossless << " of " << code_origins.size() << " quantized linears lossless, "
        << kept - lossless << " with their codes and an fp16-rounded minimum, " << code_origins.size() - kept
        << " re-quantized from their dequantized weights\n";
    for (const GgufCodeOrigin& o : code_origins) out << "  " << o.tensor << ": " << o.describe(quantized_input) << "\n";
  }
  return out.str();
}

nlohmann::json GgufExportSummary::to_json() const {
  nlohmann::json j{{"path", path},         {"type", type},     {"file_type", file_type},
                   {"tensors", tensors},   {"weights", weights}, {"tensor_bytes", tensor_bytes},
                   {"bits_per_weight", bits_per_weight()}};
  j["quantized_linears"] = nlohmann::json::array();
  for (const GgufCodeOrigin& o : code_origins)
    j["quantized_linears"].push_back({{"tensor", o.tensor},
                                      {"codes_kept", o.kept_codes},
                                      {"lossless", o.kept_codes && o.max_error == 0},
                                      {"max_error", o.max_error},
                                      {"summary", o.describe(quantized_input)}});
  if (!imatrix.empty()) j["imatrix"] = {{"file", imatrix}, {"quantized_without_entry", without_importance}};
  j["tensor_types"] = nlohmann::json::object();
  for (const auto& [t, n] : tensors_per_type) j["tensor_types"][t] = n;
  j["fallbacks"] = nlohmann::json::array();
  for (const GgufExportFallback& f : fallbacks)
    j["fallbacks"].push_back({{"tensor", f.tensor}, {"wanted", ggml_type_name(f.wanted)},
                              {"used", ggml_type_name(f.used)}, {"why", f.why}});
  return j;
}

}  // namespace mp
