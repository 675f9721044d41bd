// modelpress prune: structured pruning (layers, KV groups, FFN and hidden channels, ranked on
// calibration text) into a smaller HF checkpoint of the same architecture.
#include <iostream>

#include "distill/prune.h"
#include "lib/pipeline/recipe_paths.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

void add_prune(CLI::App& app) {
  auto* cmd = app.add_subcommand("prune", "Structured pruning (depth and width) into a smaller HF checkpoint");
  auto r = std::make_shared<PruneRequest>();
  auto json = std::make_shared<bool>(false);
  auto layers = std::make_shared<int64_t>(0), heads = std::make_shared<int64_t>(0);
  auto ffn = std::make_shared<int64_t>(0), hidden = std::make_shared<int64_t>(0);
  auto target = std::make_shared<double>(0);
  cmd->add_option("--model,-m", r->model, "HF model directory to prune")->required();
  cmd->add_option("--data", r->calibration.file, "calibration text (empty: the built-in corpus)");
  cmd->add_option("--out", r->out, "output HF directory")->type_name(kWrittenPathType)->required();
  auto* o_target = cmd->add_option("--target-params", *target,
                                   "parameters to keep: a count, or a fraction <= 1 (keeps layers and heads, "
                                   "shrinks hidden and FFN width by one factor)");
  auto* o_layers = cmd->add_option("--layers", *layers, "decoder layers to keep (least block influence dropped)");
  auto* o_heads = cmd->add_option("--heads", *heads, "attention heads to keep (whole KV groups)");
  auto* o_ffn = cmd->add_option("--ffn", *ffn, "FFN channels (intermediate_size) to keep");
  auto* o_hidden = cmd->add_option("--hidden", *hidden, "hidden channels (hidden_size) to keep");
  cmd->add_option("--align", r->targets.align, "--target-params picks widths that are multiples of this")
      ->capture_default_str();
  cmd->add_option("--nsamples", r->calibration.samples, "calibration windows")->capture_default_str();
  cmd->add_option("--seqlen", r->calibration.seqlen, "tokens per window (0: min(2048, context))")->capture_default_str();
  cmd->add_option("--seed", r->calibration.seed, "which windows are drawn")->capture_default_str();
  cmd->add_option("--batch", r->batch, "calibration windows per forward")->capture_default_str();
  cmd->add_flag("--json", *json, "print the report as JSON");
  add_runtime_options(cmd, r->runtime);
  cmd->callback([=] {
    if (*o_target) r->targets.target_params = *target;
    if (*o_layers) r->targets.layers = *layers;
    if (*o_heads) r->targets.heads = *heads;
    if (*o_ffn) r->targets.ffn = *ffn;
    if (*o_hidden) r->targets.hidden = *hidden;
    record_inputs({{"model", r->model}, {"data", r->calibration.file}}, r->calibration.seed);
    const nlohmann::json report = run_prune(*r);
    if (*json) {
      std::cout << report.dump(2) << "\n";
      return;
    }
    const auto& b = report["before"];
    const auto& a = report["after"];
    for (const char* key : {"num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size",
                            "hidden_size", "parameters"})
      std::cout << key << ": " << b[key] << " -> " << a[key] << "\n";
    std::cout << "kept layers " << report["kept_layers"].dump() << "; wrote " << r->out << "\n";
  });
}

}  // namespace mp::tools
