// modelpress export --to gguf: a model (HF directory, GPTQ checkpoint or GGUF) as a llama.cpp GGUF.
#include <cstdio>
#include <iostream>

#include "formats/gguf_export.h"
#include "lib/base/progress.h"
#include "lib/pipeline/recipe_paths.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {
struct ExportArgs {
  std::string to = "gguf", type = "F16", model, out, name, pre, imatrix, provenance = "file", grid_from;
  std::vector<std::string> tensor_types;
  std::string output_type, token_embedding_type;
  GgufSizeTarget target;
  bool pure = false, leave_output = false, json = false, quiet = false;
  int threads = 0;
};

void run_export(const ExportArgs& a) {
  Progress::set_quiet(a.quiet);
  set_cpu_threads(a.threads);
  GgufExportOptions options;
  options.type = parse_gguf_export_type(a.type, a.pure);
  GgufTypeOverrides& overrides = options.type.overrides;
  for (const std::string& spec : a.tensor_types) overrides.add_tensor_type("--tensor-type", spec);
  if (!a.output_type.empty()) overrides.output = parse_gguf_tensor_type("--output-tensor-type", a.output_type);
  if (!a.token_embedding_type.empty())
    overrides.token_embedding = parse_gguf_tensor_type("--token-embedding-type", a.token_embedding_type);
  overrides.leave_output = a.leave_output;
  options.name = a.name;
  options.pre = a.pre;
  options.imatrix = a.imatrix;
  options.provenance_keys = a.provenance == "file";
  options.grid_from = a.grid_from;
  options.target = a.target;
  record_inputs({{"model", a.model}});
  if (!a.target.calib.empty()) record_inputs({{"calibration", a.target.calib}}, a.target.seed);
  if (!a.grid_from.empty()) record_inputs({{"grid_from", a.grid_from}});
  if (!a.imatrix.empty()) record_inputs({{"imatrix", a.imatrix}});
  const GgufExportSummary summary = export_gguf(*open_model(a.model), a.out, options);
  const std::string text = a.json ? summary.to_json().dump(2) + "\n" : summary.to_text();
  // With -o - the GGUF itself is stdout (the writer never seeks), so the summary moves to stderr.
  if (a.out != "-") std::cout << text;
  else if (!a.quiet) std::fputs(text.c_str(), stderr);
}
}  // namespace

void add_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write a model in another format (GGUF for llama.cpp)");
  auto a = std::make_shared<ExportArgs>();
  cmd->add_option("--to", a->to, "output format")->check(CLI::IsMember({"gguf"}))->capture_default_str();
  cmd->add_option("--type", a->type, "GGUF file type: " + gguf_export_type_choices())->capture_default_str();
  cmd->add_option("--model,-m", a->model, "model directory or file")->required();
  cmd->add_option("--output,-o", a->out, "output file ('-': stream the GGUF to stdout, summary on stderr)")
      ->type_name(kWrittenPathType)
      ->required();
  cmd->add_option("--name", a->name, "general.name (default: the model's directory name)");
  cmd->add_option("--pre", a->pre,
                  "tokenizer.ggml.pre of a byte-level BPE vocabulary (default: recognized as llama.cpp's converter does)");
  cmd->add_option("--imatrix", a->imatrix,
                  "importance matrix (llama-imatrix .dat or GGUF, or modelpress imatrix) used as llama-quantize --imatrix");
  cmd->add_option("--grid-from", a->grid_from,
                  "GGUF whose stored k-quant block scales are kept for tensors it holds in the type they get here; "
                  "only their codes are chosen (docs/qad.md)");
  add_size_target_options(cmd, a->target);
  cmd->add_option("--calib", a->target.calib,
                  "with --target-*: calibration text whose logits the size target's KL loss is measured on "
                  "(without it: the imatrix-weighted weight error)");
  cmd->add_option("--tokenizer", a->target.tokenizer, "tokenizer for --calib (default: the model's own)");
  cmd->add_option("--seqlen", a->target.seqlen, "with --calib: tokens per window (0: min(2048, model context))")
      ->capture_default_str();
  cmd->add_option("--seed", a->target.seed, "with --calib: window sampling seed")->capture_default_str();
  cmd->add_option("--tensor-type", a->tensor_types,
                  "REGEX=TYPE: tensors whose GGUF name matches get TYPE (repeatable, first match wins; quantized types)");
  cmd->add_option("--output-tensor-type", a->output_type, "type of output.weight (and of a tied token_embd)");
  cmd->add_option("--token-embedding-type", a->token_embedding_type, "type of token_embd.weight");
  cmd->add_flag("--leave-output-tensor", a->leave_output, "output.weight stays F32 (llama-quantize --leave-output-tensor)");
  cmd->add_flag("--pure", a->pure, "every 2-D weight gets the base type, no per-tensor mix rules (llama-quantize --pure)");
  cmd->add_option("--provenance", a->provenance,
                  "file: general.modelpress.* keys in the GGUF and FILE.manifest.json; manifest: only the manifest "
                  "(the header is then llama.cpp's own)")
      ->check(CLI::IsMember({"file", "manifest"}))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print the summary as JSON");
  cmd->add_flag("--quiet,-q", a->quiet, "no progress output");
  cmd->add_option("--threads,-t", a->threads, "CPU threads encoding rows (0: one per core); the file is the same for any")
      ->capture_default_str();
  cmd->callback([a] { run_export(*a); });
}

}  // namespace mp::tools
