#include "lib/runtime/teacher_data.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "formats/generation_record.h"
#include "formats/jsonl_file.h"
#include "formats/prompt_file.h"
#include "lib/base/atomic_output.h"
#include "lib/base/error.h"
#include "lib/base/progress.h"
#include "lib/runtime/batch_generate.h"
#include "lib/runtime/runtime.h"

namespace mp {

namespace {

// The completion as it continues the prompt's text: decoding the new tokens alone would drop the
// leading space SentencePiece decoders strip from a text's first piece.
std::string completion_text(const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& completion) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), completion.begin(), completion.end());
  const std::string head = tokenizer.decode(prompt), whole = tokenizer.decode(all);
  if (whole.compare(0, head.size(), head) == 0) return whole.substr(head.size());
  return tokenizer.decode(completion);
}

// How many prompts the partial file already holds. A last line cut short by a kill is dropped.
int64_t resume_partial(const std::string& partial, const std::vector<Prompt>& prompts) {
  if (!std::filesystem::exists(partial)) return 0;
  std::string text = read_text_file(partial);
  text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  int64_t done = 0;
  for_each_jsonl_object(partial, text, [&](const nlohmann::json& object, const std::string& where) {
    const GenerationRecord record = parse_generation_record(object, where);
    if (done >= static_cast<int64_t>(prompts.size()) || record.prompt != prompts[done].text)
      fail_input(where, "continues another prompt than " +
                            (done < static_cast<int64_t>(prompts.size()) ? prompts[done].where : "any") +
                            " (an earlier run's partial output; delete it to start over)");
    ++done;
  });
  std::filesystem::resize_file(partial, text.size());
  return done;
}

}  // namespace

TeacherDataSummary generate_teacher_data(LlamaModel& model, const Tokenizer& tokenizer, const TeacherDataRequest& r) {
  if (r.batch_size < 1) fail_input("--batch-size", "must be at least 1");
  const std::vector<Prompt> prompts = read_prompts(r.prompts);
  const int64_t limit = model.config().max_position_embeddings;
  std::vector<std::vector<int32_t>> tokens;
  for (const Prompt& p : prompts) {
    tokens.push_back(tokenizer.encode(p.text, /*add_special=*/true));
    if (tokens.back().empty()) fail_input(p.where, "the prompt has no tokens");
    if (static_cast<int64_t>(tokens.back().size()) >= limit)
      fail_input(p.where, "the prompt is " + std::to_string(tokens.back().size()) + " tokens, the model's context " +
                              std::to_string(limit));
  }
  TeacherDataSummary summary;
  summary.prompts = static_cast<int64_t>(prompts.size());
  AtomicPath output(r.out, AtomicPath::Partial::keep_for_resume);
  summary.resumed = resume_partial(output.temp_path(), prompts);
  std::FILE* file = std::fopen(output.temp_path().c_str(), "ab");
  if (!file) fail_input(output.temp_path(), std::string("cannot write: ") + std::strerror(errno));
  const auto start = std::chrono::steady_clock::now();
  KeptLayers layers(model);
  Progress progress("generate", summary.prompts, "prompts");
  progress.skip(summary.resumed, "resumed");
  for (int64_t first = summary.resumed; first < summary.prompts; first += r.batch_size) {
    const int64_t end = std::min(summary.prompts, first + r.batch_size);
    const std::vector<std::vector<int32_t>> batch(tokens.begin() + first, tokens.begin() + end);
    std::vector<uint64_t> seeds;
    for (int64_t i = first; i < end; ++i) seeds.push_back(r.sampling.seed + static_cast<uint64_t>(i));
    const std::vector<Completion> completions = generate_batch(layers, batch, r.sampling, seeds);
    std::string lines;
    for (int64_t i = first; i < end; ++i) {
      const Completion& c = completions[i - first];
      lines += generation_record_line({prompts[i].text, completion_text(tokenizer, tokens[i], c.tokens),
                                       static_cast<int64_t>(tokens[i].size()), static_cast<int64_t>(c.tokens.size()),
                                       c.ended});
      summary.completion_tokens += static_cast<int64_t>(c.tokens.size());
    }
    // A whole batch's lines at once, flushed: a kill leaves at most one line cut short.
    if (std::fwrite(lines.data(), 1, lines.size(), file) != lines.size() || std::fflush(file) != 0) {
      std::fclose(file);
      fail_runtime(output.temp_path() + ": write failed: " + std::strerror(errno));
    }
    progress.advance(end - first);
  }
  progress.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (std::fclose(file) != 0) fail_runtime(output.temp_path() + ": write failed: " + std::strerror(errno));
  output.commit();
  return summary;
}

}  // namespace mp
