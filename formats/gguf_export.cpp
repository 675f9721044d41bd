#include "formats/gguf_export.h"

#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

#include "formats/gguf_block_grid.h"
#include "formats/gguf_export_layout.h"
#include "formats/gguf_from_codes.h"
#include "formats/gguf_size_target.h"
#include "formats/gguf_stored_grids.h"
#include "formats/gguf_writer.h"
#include "lib/base/error.h"
#include "lib/base/huge_page_tensor.h"
#include "lib/base/progress.h"
#include "lib/pipeline/provenance.h"

namespace mp {

namespace {

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

}  // namespace

GgufExportSummary export_gguf(const ModelSource& source, const std::string& out_path,
                              const GgufExportOptions& requested) {
  if (!requested.provenance_keys && out_path == "-")
    fail_input("--provenance", "'manifest' needs a file output: a GGUF streamed to stdout has no manifest beside it");
  // Each tensor is read, converted to f32 in chunks of ~64 MiB and encoded: fresh blocks that
  // would fault every 4 KiB (a tenth of export's CPU time on a 1B model).
  map_large_tensors_on_huge_pages();
  GgufExportOptions options = requested;
  allocate_size_target(source, options);  // a size target becomes per-tensor types
  const LoadedImatrix imatrix = load_imatrix(options.imatrix);
  const GgufExportLayout layout = plan_gguf_export(source, options, imatrix);
  if (options.allocation && layout.file_bytes() > options.allocation->budget)
    fail_runtime("the size-targeted layout has " + std::to_string(layout.file_bytes()) + " bytes, above the budget of " +
                 std::to_string(options.allocation->budget));

  GgufExportSummary summary;
  summary.path = out_path;
  summary.type = options.type.name;
  summary.file_type = options.type.file_type;
  // Tensors on another file's stored grids are read through it (their codes, as quantized_linear).
  std::optional<StoredGridModel> on_stored_grids;
  if (!options.grid_from.empty()) {
    std::map<std::string, GgmlType> types;
    for (const PlannedTensor& t : layout.tensors)
      if (!t.name.hf.empty()) types[t.name.hf] = t.type.used;
    on_stored_grids.emplace(source, read_stored_grids(options.grid_from, source.config(), types),
                            options.grid_from_per_block_better);
  }
  const ModelSource& input = on_stored_grids ? *on_stored_grids : source;
  summary.quantized_input = input.quantization_method();
  summary.imatrix = options.imatrix;
  summary.allocation = options.allocation;
  summary.file_bytes = layout.file_bytes();

  GgufWriter writer(out_path);
  for (const auto& [key, value] : layout.metadata) writer.add_metadata(key, value);
  std::map<std::string, int64_t> per_type;
  for (const PlannedTensor& t : layout.tensors) {
    writer.add_tensor(t.name.gguf, t.shape, t.type.used);
    summary.weights += t.numel();
    summary.tensor_bytes += t.bytes();
    ++per_type[ggml_type_name(t.type.used)];
    if (t.type.used != t.type.wanted)
      summary.fallbacks.push_back({t.name.gguf, t.type.wanted, t.type.used, t.type.why});
  }
  summary.tensors = static_cast<int64_t>(layout.tensors.size());
  summary.tensors_per_type.assign(per_type.begin(), per_type.end());

  Progress progress("export", summary.tensors, "tensors");
  for (const PlannedTensor& t : layout.tensors) {
    if (layout.generated.count(t.name.gguf)) writer.write_tensor(at::tensor(layout.generated.at(t.name.gguf)));
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
  if (allocation) {
    const double total = allocation->total_loss();
    out << "size target: " << allocation->budget << " bytes (the smallest possible file: " << allocation->smallest
        << "), file " << file_bytes << " bytes, " << allocation->loss_kind << " loss " << total;
    if (allocation->mix_kl >= 0) out << " (summed per tensor; the whole mix measured: KL " << allocation->mix_kl << ")";
    out << "\n";
    out << "  tensor                          type   bytes      loss share\n";
    for (const AllocatedTensor& t : allocation->tensors) {
      char line[160];
      std::snprintf(line, sizeof line, "  %-31s %-6s %-10llu %5.1f %%\n", t.tensor.c_str(), ggml_type_name(t.type),
                    static_cast<unsigned long long>(t.bytes), total > 0 ? 100.0 * t.loss / total : 0.0);
      out << line;
    }
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
  j["file_bytes"] = file_bytes;
  if (allocation) {
    const double total = allocation->total_loss();
    nlohmann::json tensors = nlohmann::json::array();
    for (const AllocatedTensor& t : allocation->tensors)
      tensors.push_back({{"tensor", t.tensor}, {"type", ggml_type_name(t.type)}, {"bytes", t.bytes}, {"loss", t.loss},
                         {"loss_share", total > 0 ? t.loss / total : 0.0}});
    j["size_target"] = {{"budget", allocation->budget}, {"smallest", allocation->smallest}, {"total_loss", total},
                        {"loss_kind", allocation->loss_kind}, {"tensors", tensors}};
    if (allocation->mix_kl >= 0) j["size_target"]["mix_kl"] = allocation->mix_kl;
  }
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
