// Teacher data (`generate --prompts`): batched decoding against one prompt at a time, seeds that do
// not depend on the batch, resuming a stopped run, malformed prompt files, and reading it back
// with `tokenize`.
#include <fstream>

#include "distill/token_dataset.h"
#include "lib/runtime/batch_generate.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/teacher_data.h"
#include "tests/architecture_cases.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

const std::vector<std::string> kPrompts = {"Once upon a time", "Tom", "The little dog was very happy because",
                                           "One day, Lily went to the park with her mom. She saw a big",
                                           "Sue liked to", "There was a cat. The cat"};

std::vector<std::vector<int32_t>> encoded(LlamaModel& model) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& p : kPrompts) out.push_back(model.source().tokenizer().encode(p, true));
  return out;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

}  // namespace

TEST_CASE("generate_batch: greedy tokens equal generate() of each prompt alone", "[teacher_data]") {
  LlamaModel model(open_model(test::shared_path("models/stories260K")), RuntimeOptions{});
  const auto prompts = encoded(model);
  SamplingOptions greedy;
  greedy.max_new_tokens = 400;
  // llama2.c's stories models mark a story's end with BOS, never EOS: so some sequences end early
  // and leave the batch while the others go on to the limit.
  greedy.end_tokens = {1, 2};
  KeptLayers layers(model);
  BatchTimes times;
  const auto batch = generate_batch(layers, prompts, greedy, std::vector<uint64_t>(prompts.size(), 0), &times);
  int ended = 0;
  int64_t forwards = 0, steps = 0;  // a token is run through the model unless it was the last allowed
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("prompt " << i << " (" << prompts[i].size() << " tokens)");
    const std::vector<int32_t> alone = generate(model, prompts[i], greedy).new_tokens;
    CHECK(batch[i].tokens == alone);
    CHECK(batch[i].ended == (static_cast<int64_t>(alone.size()) < greedy.max_new_tokens));
    ended += batch[i].ended;
    const int64_t run = static_cast<int64_t>(alone.size()) - (batch[i].ended ? 0 : 1);
    forwards += run;
    steps = std::max(steps, run);
  }
  CHECK(ended > 0);
  CHECK(ended < static_cast<int>(prompts.size()));
  // The counts a tokens/s figure divides by (bench/bench_batched_decode).
  CHECK(times.decoded_tokens == forwards);
  CHECK(times.decode_steps == steps);
  CHECK(times.prefill_seconds > 0);
  CHECK(times.decode_seconds > 0);
}

TEST_CASE("generate_batch: greedy equals one at a time with sliding windows, q/k norms and longrope", "[teacher_data]") {
  // Windows of 4 and phi3's switch to its long factors past 16 tokens, both crossed by prompts of
  // 2 to 21 tokens and by decoding; random weights, so no family's quirks hide behind a trained model.
  for (const test::ArchitectureCase& c : test::architecture_cases()) {
    INFO(c.name);
    test::ScratchDir dir;
    LlamaModel model(open_model(test::write_architecture_model(dir, c)), RuntimeOptions{});
    std::vector<std::vector<int32_t>> prompts;
    for (int length : {2, 9, 14, 21}) {
      std::vector<int32_t> p = {1};
      for (int i = 1; i < length; ++i) p.push_back(3 + (i * 37 + length * 11) % 500);
      prompts.push_back(p);
    }
    SamplingOptions greedy;
    greedy.max_new_tokens = 12;
    greedy.stop_at_eos = false;
    KeptLayers layers(model);
    const auto batch = generate_batch(layers, prompts, greedy, std::vector<uint64_t>(prompts.size(), 0));
    for (size_t i = 0; i < prompts.size(); ++i) CHECK(batch[i].tokens == generate(model, prompts[i], greedy).new_tokens);
  }
}

TEST_CASE("generate_batch: sampled tokens do not depend on the batch size", "[teacher_data]") {
  LlamaModel model(open_model(test::shared_path("models/stories260K")), RuntimeOptions{});
  const auto prompts = encoded(model);
  SamplingOptions sampled;
  sampled.temperature = 0.9;
  sampled.max_new_tokens = 60;
  std::vector<uint64_t> seeds;
  for (size_t i = 0; i < prompts.size(); ++i) seeds.push_back(7 + i);
  KeptLayers layers(model);
  const auto all = generate_batch(layers, prompts, sampled, seeds);
  for (size_t b : {1, 4}) {
    for (size_t first = 0; first < prompts.size(); first += b) {
      const size_t end = std::min(prompts.size(), first + b);
      const auto part = generate_batch(layers, {prompts.begin() + first, prompts.begin() + end}, sampled,
                                       {seeds.begin() + first, seeds.begin() + end});
      for (size_t i = first; i < end; ++i) CHECK(part[i - first].tokens == all[i].tokens);
    }
  }
  SamplingOptions alone = sampled;
  alone.seed = seeds[2];
  CHECK(all[2].tokens == generate(model, prompts[2], alone).new_tokens);
  CHECK(all[0].tokens != all[1].tokens);
}

TEST_CASE("generate_teacher_data: batch size and a resumed stop give the identical file", "[teacher_data]") {
  const std::string m = test::shared_path("models/stories260K");
  LlamaModel model(open_model(m), RuntimeOptions{});
  test::ScratchDir dir;
  std::string jsonl;
  for (const auto& p : kPrompts) jsonl += nlohmann::json{{"prompt", p}}.dump() + "\n";
  write_text(dir.path("prompts.jsonl"), jsonl);
  TeacherDataRequest request;
  request.prompts = dir.path("prompts.jsonl");
  request.sampling.temperature = 0.8;
  request.sampling.max_new_tokens = 40;
  request.sampling.seed = 3;
  request.batch_size = 4;
  request.out = dir.path("a.jsonl");
  const TeacherDataSummary a = generate_teacher_data(model, model.source().tokenizer(), request);
  CHECK(a.prompts == 6);
  CHECK(a.resumed == 0);
  const std::string full = test::read_file(request.out);
  REQUIRE(std::count(full.begin(), full.end(), '\n') == 6);
  const nlohmann::json first = nlohmann::json::parse(full.substr(0, full.find('\n')));
  CHECK(first["prompt"] == kPrompts[0]);
  CHECK(first["prompt_tokens"] == 5);

  request.batch_size = 1;
  request.out = dir.path("b.jsonl");
  generate_teacher_data(model, model.source().tokenizer(), request);
  CHECK(test::read_file(request.out) == full);

  // A run stopped after two prompts and in the middle of writing the third line.
  request.batch_size = 3;
  request.out = dir.path("c.jsonl");
  size_t two_lines = full.find('\n', full.find('\n') + 1) + 1;
  write_text(dir.path(".c.jsonl.resumable"), full.substr(0, two_lines + 20));
  const TeacherDataSummary c = generate_teacher_data(model, model.source().tokenizer(), request);
  CHECK(c.resumed == 2);
  CHECK(test::read_file(request.out) == full);
  CHECK(!std::filesystem::exists(dir.path(".c.jsonl.resumable")));

  // A partial file from other prompts is refused, not continued.
  write_text(dir.path(".d.jsonl.resumable"), full.substr(full.find('\n') + 1));
  request.out = dir.path("d.jsonl");
  CHECK_THROWS_WITH(generate_teacher_data(model, model.source().tokenizer(), request),
                    Catch::Contains(".d.jsonl.resumable:1: continues another prompt than"));
}

TEST_CASE("generate --prompts: the CLI writes teacher data that tokenize reads back", "[teacher_data][cli]") {
  const std::string m = test::shared_path("models/stories260K");
  test::ScratchDir dir;
  std::string text;
  for (const auto& p : kPrompts) text += p + "\n\n";  // blank lines are skipped
  write_text(dir.path("prompts.txt"), text);
  auto r = test::run_modelpress("generate -m '" + m + "' --prompts '" + dir.path("prompts.txt") + "' --out '" +
                                dir.path("data.jsonl") + "' -n 30 -b 4 --quiet --dtype f32");
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("6 prompts (0 resumed)") != std::string::npos);
  r = test::run_modelpress("tokenize --tokenizer '" + m + "' --out '" + dir.path("data.h5") + "' '" +
                           dir.path("data.jsonl") + "'");
  REQUIRE(r.exit_code == 0);
  const TokenDataset data(dir.path("data.h5"));
  REQUIRE(data.n_documents() == 6);
  const std::string first_line = test::read_file(dir.path("data.jsonl")).substr(0, test::read_file(dir.path("data.jsonl")).find('\n'));
  const nlohmann::json record = nlohmann::json::parse(first_line);
  const Tokenizer& tokenizer = open_model(m)->tokenizer();
  CHECK(data.document(0) == tokenizer.encode(record["prompt"].get<std::string>() + record["completion"].get<std::string>(), true));
  // The greedy completion continues the prompt's text: the reference's 48 tokens (f32, hence --dtype f32
  // above) start with ", there was".
  CHECK(record["completion"].get<std::string>().rfind(", there was a little girl", 0) == 0);
  CHECK(record["completion_tokens"] == 30);
  CHECK(record["finish"] == "length");
}

TEST_CASE("generate --prompts: a malformed prompt file gives one line, exit 3 and no output", "[teacher_data][cli]") {
  const std::string m = test::shared_path("models/stories260K");
  test::ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"prompt\": \"a\"}\n{\"prompt\": \"b\"\n", "bad.jsonl:2: not valid JSON"},
      {"{\"prompt\": \"a\"}\n\n{\"text\": \"b\"}\n", "bad.jsonl:3: no \"prompt\""},
      {"{\"prompt\": 5}\n", "bad.jsonl:1: \"prompt\" is not a string"},
      {"[\"a\"]\n", "bad.jsonl:1: is not a JSON object"},
      {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n", "bad.jsonl:1: \"messages\" needs a chat template"},
      {"", "bad.jsonl: no prompts"},
  };
  for (const auto& [content, message] : cases) {
    INFO(message);
    write_text(dir.path("bad.jsonl"), content);
    const auto r = test::run_modelpress("generate -m '" + m + "' --prompts '" + dir.path("bad.jsonl") + "' --out '" +
                                        dir.path("out.jsonl") + "'");
    CHECK(r.exit_code == 3);
    CHECK(r.err.rfind("modelpress: error: " + dir.path(message), 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(!std::filesystem::exists(dir.path("out.jsonl")));
    CHECK(!std::filesystem::exists(dir.path(".out.jsonl.resumable")));
  }
  write_text(dir.path("empty.txt"), "\n  \n");
  const auto r = test::run_modelpress("generate -m '" + m + "' --prompts '" + dir.path("empty.txt") + "' --out '" +
                                      dir.path("out.jsonl") + "'");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("empty.txt: no prompts") != std::string::npos);
}
