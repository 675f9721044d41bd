#include "lib/eval/compare.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "lib/base/error.h"
#include "lib/runtime/runtime.h"

namespace mp {

namespace {

std::string display_name(const std::string& path) {
  std::filesystem::path p(path);
  if (!p.has_filename()) p = p.parent_path();  // "dir/" names the directory
  return p.filename().string();
}

CompareRow evaluate_row(const std::string& path, LlamaModel& reference, const std::vector<int32_t>& tokens,
                        const std::string& text, const PerplexityOptions& options, const RuntimeOptions& runtime) {
  LlamaModel model(open_model(path), runtime);
  if (model.source().tokenizer().encode(text, /*add_special=*/true) != tokens)
    fail_input(path, "tokenizes the text differently from the reference; KL divergence needs the same vocabulary");
  CompareRow row{display_name(path), path, measure_footprint(path, model.config()), {}};
  row.report = evaluate_perplexity_with_progress(row.name, model, tokens, options, &reference);
  return row;
}

}  // namespace

std::vector<CompareRow> compare_models(const std::string& reference_path, const std::vector<std::string>& models,
                                       const std::string& text_path, const PerplexityOptions& options,
                                       const RuntimeOptions& runtime) {
  LlamaModel reference(open_model(reference_path), runtime);
  const std::string text = read_text_file(text_path);
  const Tokenizer tokenizer = reference.source().tokenizer();
  const std::vector<int32_t> tokens = tokenizer.encode(text, /*add_special=*/true);
  PerplexityOptions chunked = options;
  chunked.chunk_start_token = chunk_start_token(tokenizer);
  std::vector<CompareRow> rows;
  for (const std::string& path : models) rows.push_back(evaluate_row(path, reference, tokens, text, chunked, runtime));
  return rows;
}

std::string compare_table(const std::vector<CompareRow>& rows) {
  std::ostringstream out;
  char line[512];
  size_t width = 5;
  for (const CompareRow& r : rows) width = std::max(width, r.name.size());
  const int w = static_cast<int>(width);
  std::snprintf(line, sizeof line, "%-*s  %9s  %8s  %11s  %17s  %15s  %10s  %9s\n", w, "model", "size MiB", "bpw all",
                "bpw linear", "PPL", "KL to reference", "same top-1 %", "tokens/s");
  out << line;
  for (const CompareRow& r : rows) {
    const ComparisonStats& s = *r.report.comparison;
    std::snprintf(line, sizeof line, "%-*s  %9.3f  %8.2f  %11.2f  %8.3f ± %6.3f  %15.5f  %10.2f  %9.0f\n", w,
                  r.name.c_str(), static_cast<double>(r.footprint.file_bytes) / (1024.0 * 1024.0),
                  r.footprint.bits_per_weight(), r.footprint.linear_bits_per_weight(), r.report.ppl,
                  r.report.ppl_error, s.kld_mean, s.same_top1_percent, r.report.tokens_per_s);
    out << line;
  }
  // Every row ran in the same compute type (--dtype; auto picks it from the hardware).
  if (!rows.empty()) out << "compute type: " << rows.front().report.compute_type << "\n";
  return out.str();
}

nlohmann::ordered_json compare_json(const std::vector<CompareRow>& rows) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const CompareRow& r : rows) {
    const ComparisonStats& s = *r.report.comparison;
    j.push_back({{"name", r.name},
                 {"path", r.path},
                 {"file_bytes", r.footprint.file_bytes},
                 {"parameters", r.footprint.parameters},
                 {"bits_per_weight", r.footprint.bits_per_weight()},
                 {"linear_bits_per_weight", r.footprint.linear_bits_per_weight()},
                 {"ctx", r.report.ctx},
                 {"chunks", r.report.chunks},
                 {"ppl", r.report.ppl},
                 {"ppl_error", r.report.ppl_error},
                 {"kld_mean", s.kld_mean},
                 {"kld_mean_error", s.kld_mean_error},
                 {"same_top1_percent", s.same_top1_percent},
                 {"tokens_per_s", r.report.tokens_per_s},
                 {"compute_type", r.report.compute_type}});
  }
  return j;
}

}  // namespace mp
