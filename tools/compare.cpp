// modelpress compare --reference REF --text FILE MODEL...: one table of size, bits per weight,
// perplexity, KL divergence to the reference and speed (lib/compare.h).
#include <iostream>

#include "lib/eval/compare.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

void add_compare(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "Evaluate models on one text against a reference: size, bits per "
                                            "weight, perplexity, KL divergence, same top-1, tokens/s");
  struct Args {
    std::string reference, text;
    std::vector<std::string> models;
    PerplexityOptions perplexity;
    RuntimeSettings runtime = inference_settings();
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--reference", a->reference, "the model the others are compared with (e.g. the teacher)")
      ->required();
  cmd->add_option("--text,-f", a->text, "text file every model is evaluated on")->required();
  cmd->add_option("--ctx,-c", a->perplexity.ctx, "tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", a->perplexity.max_chunks, "stop after N chunks (-1: all)")->capture_default_str();
  cmd->add_option("--batch", a->perplexity.chunks_per_batch, "chunks per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", a->json, "print the rows as JSON");
  cmd->add_option("models,--models", a->models, "model directories or GGUF files, one row each (--models: comma-separated)")
      ->required()
      ->delimiter(',');
  add_runtime_options(cmd, a->runtime);
  cmd->callback([a] {
    const RuntimeOptions runtime = apply_runtime_settings(a->runtime);
    const auto rows = compare_models(a->reference, a->models, a->text, a->perplexity, runtime);
    std::cout << (a->json ? compare_json(rows).dump(2) + "\n" : compare_table(rows));
  });
}

}  // namespace mp::tools
