// modelpress imatrix: an importance matrix from calibration text, as llama-imatrix computes it, for
// `export --to gguf --imatrix` (or llama-quantize --imatrix).
#include <iostream>

#include "formats/imatrix_file.h"
#include "lib/base/error.h"
#include "lib/base/progress.h"
#include "lib/pipeline/recipe_paths.h"
#include "lib/runtime/llama_model.h"
#include "quant/collect_imatrix.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {
struct ImatrixArgs {
  std::string model, calib, out, format = "gguf";
  ImatrixOptions imatrix;
  RuntimeSettings runtime;
};

void run_imatrix(const ImatrixArgs& a) {
  if (a.out == "-") fail_input("--output", "must name a file (the matrix is renamed into place)");
  const RuntimeOptions runtime = apply_runtime_settings(a.runtime);
  record_inputs({{"model", a.model}, {"calib", a.calib}});
  LlamaModel model(open_model(a.model), runtime);
  const std::vector<int32_t> tokens = model.source().tokenizer().encode(read_text_file(a.calib), /*add_bos=*/true);
  ImatrixOptions options = a.imatrix;
  options.dataset = a.calib;
  Progress progress("imatrix", imatrix_chunk_count(static_cast<int64_t>(tokens.size()), options, a.calib), "chunks");
  const ImportanceMatrix m = collect_imatrix(model, tokens, options, a.calib, [&](int64_t) { progress.advance(1); });
  write_imatrix(m, a.out, a.format == "dat");
  write_file_manifest(a.out);
  progress.finish();
  std::cout << a.out << ": " << m.entries.size() << " weights, " << m.chunk_count << " chunks of " << m.chunk_size
            << " tokens (" << a.format << ")\n";
}
}  // namespace

void add_imatrix(CLI::App& app) {
  auto* cmd = app.add_subcommand("imatrix", "Importance matrix from calibration text (llama-imatrix's method and formats)");
  auto a = std::make_shared<ImatrixArgs>();
  cmd->add_option("--model,-m", a->model, "model directory or file")->required();
  cmd->add_option("--calib,-f", a->calib, "calibration text file")->required();
  cmd->add_option("--output,-o", a->out, "importance matrix to write")->type_name(kWrittenPathType)->required();
  cmd->add_option("--format", a->format, "gguf (current llama.cpp) or dat (legacy llama-imatrix)")
      ->check(CLI::IsMember({"gguf", "dat"}))
      ->capture_default_str();
  cmd->add_option("--ctx,-c", a->imatrix.ctx, "tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", a->imatrix.max_chunks, "stop after N chunks (-1: all)")->capture_default_str();
  cmd->add_flag("--process-output", a->imatrix.process_output,
                "also collect output.weight (an untied output matrix), as llama-imatrix --process-output");
  add_runtime_options(cmd, a->runtime);
  cmd->callback([a] { run_imatrix(*a); });
}

}  // namespace mp::tools
