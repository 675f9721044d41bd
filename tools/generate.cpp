// modelpress generate: continue a prompt, greedily or sampled, with a KV cache; with --prompts,
// continue every prompt of a file in batches into teacher data (lib/runtime/teacher_data.h).
#include <cstdio>
#include <iostream>

#include "lib/base/terminal_text.h"
#include "lib/pipeline/recipe_paths.h"
#include "lib/runtime/compute_type.h"
#include "lib/runtime/generate.h"
#include "lib/runtime/model_tokenizer.h"
#include "lib/runtime/speculative.h"
#include "lib/runtime/teacher_data.h"
#include "tools/common.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {
struct GenerateArgs {
  std::string model, prompt = "Once upon a time", prompt_file, tokenizer, draft;
  int64_t draft_tokens = 4;
  SamplingOptions sampling;
  RuntimeSettings runtime = inference_settings();
  int top_logits = 0;
  bool ids = false, json = false;
  TeacherDataRequest teacher_data;
};

// A prompt file loses one trailing newline, the one `echo` and editors add.
std::string read_prompt_file(const std::string& path) {
  std::string text = read_text_file(path);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

void run_teacher_data(GenerateArgs& a, LlamaModel& model, const Tokenizer& tokenizer) {
  if (a.teacher_data.out.empty()) throw CLI::RequiredError("--out (with --prompts)");
  a.teacher_data.sampling = a.sampling;
  const TeacherDataSummary s = generate_teacher_data(model, tokenizer, a.teacher_data);
  std::printf("%s: %lld prompts (%lld resumed), %lld tokens generated at %.1f tokens/s\n", a.teacher_data.out.c_str(),
              static_cast<long long>(s.prompts), static_cast<long long>(s.resumed),
              static_cast<long long>(s.completion_tokens), s.seconds > 0 ? s.completion_tokens / s.seconds : 0.0);
}

void run_generate(GenerateArgs& a) {
  if (!a.prompt_file.empty()) a.prompt = read_prompt_file(a.prompt_file);
  const RuntimeOptions runtime = apply_runtime_settings(a.runtime);
  LlamaModel model(open_model(a.model), runtime);
  std::unique_ptr<LlamaModel> draft;
  if (!a.draft.empty()) {
    if (!a.teacher_data.prompts.empty()) fail_input("--draft", "is not used with --prompts (batched generation has no draft)");
    draft = std::make_unique<LlamaModel>(open_model(a.draft), runtime);
    check_draft_vocabulary(a.draft, model.config(), draft->config());
  }
  a.sampling.end_tokens = end_tokens(model.config(), a.model);
  const Tokenizer tokenizer = model_tokenizer(model.source(), a.tokenizer);
  if (!a.teacher_data.prompts.empty()) return run_teacher_data(a, model, tokenizer);
  if (draft) check_draft_vocabulary(a.draft, model.config(), draft->config(), tokenizer, model_tokenizer(draft->source(), a.tokenizer));
  const std::vector<int32_t> prompt = tokenizer.encode(a.prompt, /*add_special=*/true);
  const bool stream = !a.json && !a.ids;
  if (stream) std::cout << terminal_safe(a.prompt, Newlines::keep) << std::flush;
  const auto print = [&](int32_t id) {
    if (stream) std::cout << terminal_safe(tokenizer.token_text(id, false), Newlines::keep) << std::flush;
  };
  SpeculativeGeneration speculative;
  if (draft) speculative = generate_speculative(model, *draft, prompt, a.sampling, a.draft_tokens, print);
  const Generation g = draft ? speculative.generation : generate(model, prompt, a.sampling, print);
  const double tokens_per_s = g.decode_seconds > 0 ? g.new_tokens.size() / g.decode_seconds : 0;
  at::Tensor top_values, top_ids;
  if (a.top_logits > 0) std::tie(top_values, top_ids) = g.prompt_logits.topk(a.top_logits);
  if (a.json) {
    nlohmann::ordered_json j;
    j["prompt_tokens"] = prompt;
    j["tokens"] = g.new_tokens;
    j["text"] = tokenizer.decode(g.new_tokens);
    if (a.top_logits > 0) {
      j["top_logits"] = nlohmann::ordered_json::array();
      for (int i = 0; i < a.top_logits; ++i)
        j["top_logits"].push_back({{"id", top_ids[i].item<int64_t>()}, {"logit", top_values[i].item<float>()}});
    }
    j["compute_type"] = compute_type_name(runtime.dtype);
    j["prefill_seconds"] = g.prefill_seconds;
    j["decode_tokens_per_s"] = tokens_per_s;
    if (draft) j["speculative"] = {{"draft_k", a.draft_tokens}, {"target_passes", speculative.target_passes},
                                   {"drafted", speculative.drafted}, {"accepted", speculative.accepted}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  if (stream) std::cout << "\n";
  if (a.ids) {
    for (size_t i = 0; i < g.new_tokens.size(); ++i) std::cout << (i ? " " : "") << g.new_tokens[i];
    std::cout << "\n";
  }
  for (int i = 0; i < a.top_logits; ++i)
    std::printf("top logit %d: id %lld = %.4f\n", i + 1, static_cast<long long>(top_ids[i].item<int64_t>()),
                top_values[i].item<float>());
  if (!a.runtime.quiet)
    std::fprintf(stderr, "generate: %zu tokens, %.1f tokens/s, %s compute\n", g.new_tokens.size(), tokens_per_s,
                 compute_type_name(runtime.dtype).c_str());
  if (draft && !a.runtime.quiet)
    std::fprintf(stderr, "generate: %lld target passes, %lld of %lld drafted tokens accepted\n",
                 static_cast<long long>(speculative.target_passes), static_cast<long long>(speculative.accepted),
                 static_cast<long long>(speculative.drafted));
}
}  // namespace

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Continue a prompt (greedy or sampled) with a KV cache");
  auto a = std::make_shared<GenerateArgs>();
  cmd->add_option("--model,-m", a->model, "model directory or file")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer directory or file (default: the model's own)");
  auto* prompt = cmd->add_option("--prompt,-p", a->prompt, "prompt text")->capture_default_str();
  cmd->add_option("--prompt-file,-f", a->prompt_file, "read the prompt from a file ('-': standard input; one trailing newline dropped)")
      ->excludes(prompt);
  cmd->add_option("--n-predict,-n", a->sampling.max_new_tokens, "tokens to generate")->capture_default_str();
  cmd->add_option("--temp", a->sampling.temperature, "temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", a->sampling.top_k, "sample from the k most likely tokens (0: all)")->capture_default_str();
  cmd->add_option("--top-p", a->sampling.top_p, "nucleus sampling mass (1: off)")->capture_default_str();
  cmd->add_option("--seed", a->sampling.seed, "sampling seed")->capture_default_str();
  cmd->add_flag("--ignore-eos", [a](int64_t) { a->sampling.stop_at_eos = false; }, "keep going past end-of-sequence");
  cmd->add_option("--draft", a->draft, "draft model for speculative decoding (the model's vocabulary)");
  cmd->add_option("--draft-k", a->draft_tokens, "tokens the draft proposes per target pass")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--top-logits", a->top_logits, "print the N largest logits at the last prompt position");
  cmd->add_flag("--ids", a->ids, "print the generated token ids instead of streaming text");
  cmd->add_flag("--json", a->json, "print tokens, text and timings as JSON");
  cmd->add_option("--prompts", a->teacher_data.prompts,
                  "generate for every prompt of this file (.jsonl: {\"prompt\": ...} per line; else one per line)")
      ->excludes(prompt);
  cmd->add_option("--out,-o", a->teacher_data.out, "with --prompts: the JSON Lines output (resumes a killed run's)")
      ->type_name(kWrittenPathType);
  cmd->add_option("--batch-size,-b", a->teacher_data.batch_size, "with --prompts: sequences decoded together")
      ->capture_default_str();
  add_runtime_options(cmd, a->runtime);
  cmd->callback([a] { run_generate(*a); });
}

}  // namespace mp::tools
