// modelpress eval: perplexity (and KL divergence to a reference model) on a text file.
#include <iostream>

#include "lib/runtime/llama_model.h"
#include "lib/eval/perplexity.h"
#include "lib/runtime/model_tokenizer.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {
struct EvalArgs {
  std::string model, text, reference, tokenizer;
  PerplexityOptions perplexity;
  RuntimeSettings runtime = inference_settings();
  bool json = false, print_chunks = false;
};

void run_eval(const EvalArgs& a) {
  const RuntimeOptions runtime = apply_runtime_settings(a.runtime);
  LlamaModel model(open_model(a.model), runtime);
  std::unique_ptr<LlamaModel> reference;
  if (!a.reference.empty()) reference = std::make_unique<LlamaModel>(open_model(a.reference), runtime);
  const Tokenizer tokenizer = model_tokenizer(model.source(), a.tokenizer);
  const std::vector<int32_t> tokens = tokenizer.encode(read_text_file(a.text), /*add_special=*/true);
  PerplexityOptions options = a.perplexity;
  options.chunk_start_token = chunk_start_token(tokenizer);
  const PerplexityReport report = evaluate_perplexity_with_progress("eval", model, tokens, options, reference.get());
  std::cout << (a.json ? report.to_json().dump(2) + "\n" : report.to_text(a.print_chunks));
}
}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Perplexity on a text file (llama-perplexity's method), optionally KL divergence to a reference model");
  auto a = std::make_shared<EvalArgs>();
  cmd->add_option("--model,-m", a->model, "model directory or file")->required();
  cmd->add_option("--text,-f", a->text, "text file to evaluate on")->required();
  cmd->add_option("--reference", a->reference, "base model: report KL divergence, ΔPPL and same-top-1 against it");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer directory or file (default: the model's own)");
  cmd->add_option("--ctx,-c", a->perplexity.ctx, "tokens per chunk")->capture_default_str();
  cmd->add_option("--chunks", a->perplexity.max_chunks, "stop after N chunks (-1: all)")->capture_default_str();
  cmd->add_option("--batch", a->perplexity.chunks_per_batch, "chunks per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("--json", a->json, "print the results as JSON");
  cmd->add_flag("--print-chunks", a->print_chunks, "print the running PPL after each chunk, as llama-perplexity does");
  add_runtime_options(cmd, a->runtime);
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace mp::tools
