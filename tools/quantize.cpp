// modelpress quantize --method rtn|gptq (and `modelpress gptq`): calibrated, layer-by-layer
// post-training quantization into an HF GPTQ checkpoint.
#include <iostream>

#include "formats/gptq_checkpoint.h"
#include "lib/error.h"
#include "quant/quantize_model.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {

struct QuantizeArgs {
  std::string model, out, method = "gptq", range = "minmax";
  std::vector<std::string> overrides;
  bool asym = false, no_true_sequential = false, json = false;
  QuantizePlan plan;
  RuntimeSettings runtime;
};

void run_quantize(QuantizeArgs& a) {
  const RuntimeOptions runtime = apply_runtime_settings(a.runtime);
  if (a.method == "rtn") a.plan.method = QuantMethod::rtn;
  else if (a.method == "gptq") a.plan.method = QuantMethod::gptq;
  else fail_input("--method", "unknown method '" + a.method + "' (rtn, gptq)");
  a.plan.grid.sym = !a.asym;
  a.plan.grid.search = a.range == "mse" ? RangeSearch::mse : RangeSearch::min_max;
  a.plan.true_sequential = !a.no_true_sequential;
  for (const auto& o : a.overrides) a.plan.overrides.push_back(parse_module_override(o));
  a.plan.validate();
  auto source = open_model(a.model);
  GptqCheckpointSink sink(a.out, source->config(), a.plan);
  QuantizeReport report = quantize_model(*source, a.plan, runtime, sink);
  if (a.json) {
    std::cout << report.to_json().dump(2) << "\n";
    return;
  }
  for (const auto& l : report.linears)
    std::printf("%-40s %d bits, group %4lld  rel. output error %.3e\n", l.module.c_str(), l.bits,
                static_cast<long long>(l.group_size), l.relative_error);
  std::printf("quantized %zu linears (%zu kept in full precision) in %.1f s -> %s\n", report.linears.size(),
              report.skipped.size(), report.seconds, a.out.c_str());
}

void add_quantize_command(CLI::App& app, const std::string& name, const std::string& description, bool choose_method) {
  auto* cmd = app.add_subcommand(name, description);
  auto a = std::make_shared<QuantizeArgs>();
  cmd->add_option("--model,-m", a->model, "model directory")->required();
  cmd->add_option("--out,-o", a->out, "output directory (HF GPTQ checkpoint)")->required();
  if (choose_method) cmd->add_option("--method", a->method, "rtn or gptq")->capture_default_str();
  cmd->add_option("--bits,-b", a->plan.grid.bits, "bits per weight (2..8; the GPTQ format stores 2, 3, 4, 8)")->capture_default_str();
  cmd->add_option("--group-size,-g", a->plan.grid.group_size, "weights per scale along the input (-1: per channel)")->capture_default_str();
  cmd->add_flag("--sym,!--asym", [a](int64_t n) { a->asym = n < 0; }, "symmetric (default) or asymmetric grid");
  cmd->add_option("--range", a->range, "scale search: minmax or mse (GPTQ's clipping search)")->capture_default_str();
  cmd->add_option("--calib", a->plan.calibration.file, "calibration text (default: the built-in corpus)");
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
  add_runtime_options(cmd, a->runtime);
  cmd->callback([a] { run_quantize(*a); });
}

}  // namespace

void add_quantize(CLI::App& app) {
  add_quantize_command(app, "quantize", "Quantize a model (--method rtn|gptq) with calibration into an HF GPTQ checkpoint", true);
  add_quantize_command(app, "gptq", "Same as quantize --method gptq", false);
}

}  // namespace mp::tools
