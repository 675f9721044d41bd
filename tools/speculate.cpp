// modelpress speculate: how well a draft model would serve a target in speculative decoding.
#include <iostream>

#include "lib/eval/draft_acceptance.h"
#include "lib/eval/perplexity.h"
#include "lib/runtime/compute_type.h"
#include "lib/runtime/model_tokenizer.h"
#include "lib/runtime/speculative.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {
struct SpeculateArgs {
  std::string target, draft, text;
  AcceptanceOptions acceptance;
  RuntimeSettings runtime = inference_settings();
  bool json = false;
};

void run_speculate(const SpeculateArgs& a) {
  const RuntimeOptions runtime = apply_runtime_settings(a.runtime);
  LlamaModel target(open_model(a.target), runtime);
  LlamaModel draft(open_model(a.draft), runtime);
  check_draft_vocabulary(a.draft, target.config(), draft.config());
  const Tokenizer tokenizer = model_tokenizer(target.source(), "");
  check_draft_vocabulary(a.draft, target.config(), draft.config(), tokenizer, model_tokenizer(draft.source(), ""));
  AcceptanceOptions options = a.acceptance;
  options.chunk_start_token = chunk_start_token(tokenizer);
  const DraftAcceptance r =
      measure_draft_acceptance(target, draft, tokenizer.encode(read_text_file(a.text), /*add_special=*/true), options);
  const std::string compute_type = compute_type_name(runtime.dtype);
  if (!a.json) {
    std::cout << r.to_text() << "compute type: " << compute_type << "\n";
    return;
  }
  nlohmann::ordered_json j = r.to_json();
  j["compute_type"] = compute_type;
  std::cout << j.dump(2) << "\n";
}
}  // namespace

void add_speculate(CLI::App& app) {
  auto* cmd = app.add_subcommand("speculate", "Measure a draft model's acceptance against a target and the speedup it predicts for speculative decoding");
  auto a = std::make_shared<SpeculateArgs>();
  cmd->add_option("--target", a->target, "target model directory or file")->required();
  cmd->add_option("--draft", a->draft, "draft model directory or file (the target's vocabulary)")->required();
  cmd->add_option("--text,-f", a->text, "text to run both models over (teacher-forced)")->required();
  cmd->add_option("--max-tokens", a->acceptance.max_tokens, "use the text's first N tokens (-1: all)")->capture_default_str();
  cmd->add_option("--ctx,-c", a->acceptance.ctx, "tokens per chunk (0: the models' context)")->capture_default_str();
  cmd->add_option("--temp", a->acceptance.temperature, "temperature of the sampled acceptance")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--max-draft-k", a->acceptance.max_draft_tokens, "table rows k = 1..N")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_flag("--json", a->json, "print the results as JSON");
  add_runtime_options(cmd, a->runtime);
  cmd->callback([a] { run_speculate(*a); });
}

}  // namespace mp::tools
