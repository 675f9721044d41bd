// modelpress quantize --method rtn|gptq|awq (and `modelpress gptq`, `modelpress awq`): calibrated,
// layer-by-layer post-training quantization into an HF GPTQ or AWQ checkpoint.
#include <filesystem>
#include <iostream>
#include <optional>

#include "formats/awq_checkpoint.h"
#include "formats/float_checkpoint.h"
#include "formats/gguf_sink.h"
#include "formats/gguf_size_target.h"
#include "lib/base/error.h"
#include "lib/pipeline/recipe_paths.h"
#include "quant/quantize_model.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {

struct QuantizeArgs {
  std::string model, out, method = "gptq", range = "minmax", then = "rtn";
  std::string to = "hf", gguf_type = "Q4_K_M", provenance = "file";
  GgufExportOptions gguf;
  std::vector<std::string> overrides;
  std::optional<bool> asym;  // default: symmetric, asymmetric (zero_point, as AutoAWQ) for awq
  bool no_true_sequential = false, json = false, export_scaled = false;
  QuantizePlan plan;
  ResumeOptions resume;
  AwqOptions awq;
  RuntimeSettings runtime;
};

// AWQ at 4 bits is an AWQ GEMM checkpoint; the AWQ format has no other width, so other widths
// (and --export-scaled) go to formats that hold them.
std::unique_ptr<QuantizedModelSink> make_sink(QuantizeArgs& a, const ModelSource& source) {
  const ModelConfig& config = source.config();
  if (a.to == "gguf") {
    // GPTQ (or AWQ's GPTQ) on each linear's ggml block grid, its search weighted by diag(H); a size
    // target picks those types first, from the unquantized weights.
    a.gguf.type = parse_gguf_export_type(a.gguf_type, false);
    a.gguf.provenance_keys = a.provenance == "file";
    // The size target's KL loss runs on the same text, windows and seed as the solve.
    const CalibrationOptions& c = a.plan.calibration;
    a.gguf.target.calib = c.file.empty() ? default_calibration_file() : c.file;
    a.gguf.target.tokenizer = c.tokenizer;
    a.gguf.target.seqlen = c.seqlen;
    a.gguf.target.seed = c.seed;
    allocate_size_target(source, a.gguf);
    a.plan.module_grids = gguf_module_grids(config, a.gguf);
    a.plan.gptq.hessian_importance = true;
    a.plan.calibrate_output = true;  // the output matrix and token_embd from the data too
    return std::make_unique<GgufSink>(a.out, config, a.plan, a.gguf);
  }
  if (a.export_scaled) return std::make_unique<FloatCheckpointSink>(a.out, config, a.plan);
  if (a.plan.awq && a.plan.grid.bits == 4 && a.overrides.empty())
    return std::make_unique<AwqCheckpointSink>(a.out, config, a.plan);
  if (a.plan.awq)
    std::fprintf(stderr, "quantize: the AWQ format holds one 4-bit grid for all modules; writing the AWQ-scaled "
                         "model as a GPTQ checkpoint\n");
  return std::make_unique<GptqCheckpointSink>(a.out, config, a.plan);
}

void run_quantize(QuantizeArgs& a) {
  const RuntimeOptions runtime = apply_runtime_settings(a.runtime);
  if (a.method == "rtn") a.plan.method = QuantMethod::rtn;
  else if (a.method == "gptq") a.plan.method = QuantMethod::gptq;
  else if (a.method == "awq") a.plan.awq = a.awq;
  else fail_input("--method", "unknown method '" + a.method + "' (rtn, gptq, awq)");
  if (a.plan.awq) {
    if (a.then == "rtn") a.plan.method = QuantMethod::rtn;
    else if (a.then == "gptq") a.plan.method = QuantMethod::gptq;
    else fail_input("--then", "unknown rounding '" + a.then + "' (rtn, gptq)");
    a.plan.round = !a.export_scaled;
  } else if (a.export_scaled || a.then != "rtn") {
    fail_input(a.export_scaled ? "--export-scaled" : "--then", "only applies to --method awq");
  }
  a.plan.grid.sym = !a.asym.value_or(a.method == "awq");
  a.plan.grid.search = a.range == "mse" ? RangeSearch::mse : RangeSearch::min_max;
  a.plan.true_sequential = !a.no_true_sequential;
  for (const auto& o : a.overrides) a.plan.overrides.push_back(parse_module_override(o));
  a.plan.validate();
  std::vector<std::pair<std::string, std::string>> inputs = {{"model", a.model}};
  const std::string calibration = a.plan.calibration.file.empty() ? default_calibration_file() : a.plan.calibration.file;
  // Data-free RTN also runs without the built-in corpus, which is then no input.
  if (!a.plan.calibration.file.empty() || std::filesystem::exists(calibration)) inputs.emplace_back("calibration", calibration);
  record_inputs(inputs, a.plan.calibration.seed);
  auto source = open_model(a.model);
  if (a.gguf.target.set() && a.to != "gguf") fail_input("--target-bpw/--target-size", "only apply to --to gguf");
  auto sink = make_sink(a, *source);
  QuantizeReport report = quantize_model(*source, a.plan, runtime, *sink, a.resume);
  if (report.stopped_after_layer >= 0) {
    std::fprintf(stderr, "quantize: stopped after layer %lld, as asked; --resume continues\n",
                 static_cast<long long>(report.stopped_after_layer));
    return;
  }
  if (const auto* gguf = dynamic_cast<const GgufSink*>(sink.get())) std::fprintf(stderr, "%s", gguf->summary().to_text().c_str());
  if (a.json) {
    std::cout << report.to_json().dump(2) << "\n";
    return;
  }
  for (const auto& g : report.awq)
    std::printf("%-40s AWQ alpha %.2f  block output MSE %.3e (alpha 0: %.3e)\n", g.group.c_str(), g.alpha, g.loss,
                g.loss_at_zero);
  for (const auto& l : report.linears)
    std::printf("%-40s %d bits, group %4lld  rel. output error %.3e\n", l.module.c_str(), l.bits,
                static_cast<long long>(l.group_size), l.relative_error);
  if (a.export_scaled)
    std::printf("wrote the AWQ-scaled float model (weights not rounded) in %.1f s -> %s\n", report.seconds, a.out.c_str());
  else
    std::printf("quantized %zu linears (%zu kept in full precision) in %.1f s -> %s\n", report.linears.size(),
                report.skipped.size(), report.seconds, a.out.c_str());
}

void add_awq_options(CLI::App* cmd, QuantizeArgs& a) {
  cmd->add_option("--grid", a.awq.scale.grid, "AWQ: points of the α grid in [0, 1) (1: α = 0, plain rounding)")
      ->capture_default_str();
  cmd->add_flag("--duo-scaling", a.awq.scale.duo_scaling, "AWQ: s = mean|x|^α / mean|w|^(1-α)");
  cmd->add_flag("--clip,!--no-clip", a.awq.clip, "AWQ: search a clipping range per group (not for q/k)");
  cmd->add_option("--clip-tokens", a.awq.clipping.sample_tokens, "AWQ: calibration tokens the clipping search uses")
      ->capture_default_str();
  cmd->add_option("--search-tokens", a.awq.search_tokens,
                  "AWQ: calibration tokens the scale and clip searches read (whole windows, at least one; 0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--then", a.then, "AWQ: how the scaled weights are rounded, rtn or gptq")->capture_default_str();
  cmd->add_flag("--export-scaled", a.export_scaled,
                "AWQ: write the scaled (and clipped) float model instead of rounding it, e.g. for the GGUF exporter");
}

void add_quantize_command(CLI::App& app, const std::string& name, const std::string& description,
                          const std::string& method) {
  auto* cmd = app.add_subcommand(name, description);
  auto a = std::make_shared<QuantizeArgs>();
  a->method = method;
  cmd->add_option("--model,-m", a->model, "model directory")->required();
  cmd->add_option("--out,-o", a->out, "output directory (HF GPTQ or AWQ checkpoint), or GGUF file with --to gguf")
      ->type_name(kWrittenPathType)
      ->required();
  cmd->add_option("--to", a->to, "hf (GPTQ/AWQ checkpoint) or gguf (GPTQ solved on the ggml block types of --type)")
      ->check(CLI::IsMember({"hf", "gguf"}))
      ->capture_default_str();
  cmd->add_option("--type", a->gguf_type, "with --to gguf: the GGUF file type (" + gguf_export_type_choices() + ")")
      ->capture_default_str();
  cmd->add_option("--imatrix", a->gguf.imatrix, "with --to gguf: importance matrix for the tensors GPTQ does not solve");
  cmd->add_option("--provenance", a->provenance,
                  "with --to gguf: file (general.modelpress.* keys and OUT.manifest.json) or manifest (only the "
                  "manifest: the header is then llama.cpp's own)")
      ->check(CLI::IsMember({"file", "manifest"}))
      ->capture_default_str();
  add_size_target_options(cmd, a->gguf.target);
  if (name == "quantize") cmd->add_option("--method", a->method, "rtn, gptq or awq")->capture_default_str();
  cmd->add_option("--bits,-b", a->plan.grid.bits, "bits per weight (2..8; the GPTQ format stores 2, 3, 4, 8)")->capture_default_str();
  cmd->add_option("--group-size,-g", a->plan.grid.group_size, "weights per scale along the input (-1: per channel)")->capture_default_str();
  cmd->add_flag("--sym,!--asym", [a](int64_t n) { a->asym = n < 0; },
                "symmetric or asymmetric grid (default: symmetric, asymmetric for awq)");
  cmd->add_option("--range", a->range, "scale search: minmax or mse (GPTQ's clipping search)")->capture_default_str();
  cmd->add_option("--calib", a->plan.calibration.file, "calibration text (default: the built-in corpus)");
  cmd->add_option("--tokenizer", a->plan.calibration.tokenizer,
                  "tokenizer directory or file for the calibration text (default: the model's own)");
  cmd->add_option("--nsamples", a->plan.calibration.samples, "calibration windows")->capture_default_str();
  cmd->add_option("--seqlen", a->plan.calibration.seqlen, "tokens per window (0: min(2048, model context))")->capture_default_str();
  cmd->add_option("--seed", a->plan.calibration.seed, "calibration sampling seed")->capture_default_str();
  cmd->add_option("--calib-batch", a->plan.batch, "windows per forward pass")->capture_default_str();
  cmd->add_option("--damp", a->plan.gptq.damp, "GPTQ dampening, fraction of mean diag(H)")->capture_default_str();
  cmd->add_option("--block", a->plan.gptq.block_size, "GPTQ lazy-update block size")->capture_default_str();
  cmd->add_flag("--act-order", a->plan.gptq.act_order, "GPTQ: quantize columns by decreasing Hessian diagonal (desc_act)");
  cmd->add_flag("--static-groups", a->plan.gptq.static_groups, "GPTQ: choose all group parameters before the solve");
  cmd->add_flag("--no-true-sequential", a->no_true_sequential, "quantize a layer's linears from one pass over its unquantized inputs");
  cmd->add_option("--skip", a->plan.skip, "keep modules matching this regex in full precision (repeatable)");
  cmd->add_option("--override", a->overrides, "per-module grid: REGEX:bits=N,group=G (repeatable)");
  cmd->add_flag("--json", a->json, "print the per-linear report as JSON");
  cmd->add_flag("--resume", a->resume.resume,
                "continue an interrupted run of the same command from its last finished layer (kept in .OUT.resumable)");
  cmd->add_option("--stop-after-layer", a->resume.stop_after_layer, "exit once this layer is committed, as if killed")
      ->group("");  // for resume tests
  if (method == "awq" || name == "quantize") add_awq_options(cmd, *a);
  add_runtime_options(cmd, a->runtime);
  cmd->callback([a] { run_quantize(*a); });
}

}  // namespace

void add_quantize(CLI::App& app) {
  add_quantize_command(app, "quantize", "Quantize a model (--method rtn|gptq|awq) with calibration into an HF GPTQ or AWQ checkpoint",
                       "gptq");
  add_quantize_command(app, "gptq", "Same as quantize --method gptq", "gptq");
  add_quantize_command(app, "awq", "Same as quantize --method awq: activation-aware scaling, then rounding", "awq");
}

}  // namespace mp::tools
