// `modelpress run` end to end: the dry-run plan, checks that stop a recipe before anything runs, a
// failing step, and every shipped recipe run on stories260K with small sample counts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "lib/base/sha256.h"
#include "lib/base/version.h"
#include "tests/test_support.h"

namespace fs = std::filesystem;

namespace {

std::string recipe(const std::string& name) { return std::string(mp::source_dir()) + "/recipes/" + name; }

// Runs `modelpress ARGS` in `dir`: recipe paths are relative to the working directory.
mp::test::CommandResult run_in(const std::string& dir, const std::string& args) {
  const fs::path previous = fs::current_path();
  fs::current_path(dir);
  mp::test::CommandResult result = mp::test::run_modelpress(args);
  fs::current_path(previous);
  return result;
}

// Every "PPL = X" an eval step printed, in order.
std::vector<double> perplexities(const std::string& out) {
  std::vector<double> ppl;
  const std::regex pattern("Final estimate: PPL = ([0-9.]+)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), pattern); it != std::sregex_iterator(); ++it)
    ppl.push_back(std::stod((*it)[1]));
  return ppl;
}

// Options every shipped-recipe run shares: the reference model and texts, one thread, 4 eval chunks.
std::string small_run_sets() {
  return " --set threads=1 --set eval_chunks=4 --set eval_text='" +
         mp::test::shared_path("corpora/tinystories/eval.txt") + "'";
}

// Perplexity of stories260K itself on the same 4 chunks, the yardstick for the quantized outputs.
double float_perplexity() {
  const auto r = mp::test::run_modelpress("eval -q --threads 1 --chunks 4 --model '" +
                                          mp::test::shared_path("models/stories260K") + "' --text '" +
                                          mp::test::shared_path("corpora/tinystories/eval.txt") + "'");
  REQUIRE(r.exit_code == 0);
  const auto ppl = perplexities(r.out);
  REQUIRE(ppl.size() == 1);
  return ppl[0];
}

// `modelpress inspect PATH` succeeds and mentions `expected`; returns the listing.
std::string check_loads(const std::string& path, const std::string& expected) {
  const auto r = mp::test::run_modelpress("inspect '" + path + "'");
  INFO(path << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains(expected));
  return r.out;
}

// The output's manifest names the recipe and step that made it, and every file's true sha256.
void check_manifest(const std::string& output, const std::string& recipe_name, const std::string& step) {
  const bool is_dir = fs::is_directory(output);
  std::ifstream in(is_dir ? output + "/manifest.json" : output + ".manifest.json");
  INFO(output);
  REQUIRE(in.good());
  const auto m = nlohmann::json::parse(in);
  CHECK_THAT(m["recipe"]["path"].get<std::string>(), Catch::EndsWith(recipe_name));
  CHECK(m["recipe"]["step"] == step);
  CHECK(m["recipe"]["sha256"] == mp::sha256_file(recipe(recipe_name)));
  REQUIRE(!m["files"].empty());
  for (const auto& [name, entry] : m["files"].items())
    CHECK(entry["sha256"] == mp::sha256_file(is_dir ? output + "/" + name : output));
}

// A shipped recipe that trains, run on stories260K (`model_var`) in `dir` for 3 steps on a few KB of
// TinyStories (enough windows, quick to cache the teacher on); it must succeed.
mp::test::CommandResult run_training_recipe(const mp::test::ScratchDir& dir, const std::string& name,
                                            const std::string& model_var, const std::string& out) {
  {
    std::ifstream calib(mp::test::shared_path("corpora/tinystories/calib.txt"));
    std::string text(12000, '\0');
    calib.read(text.data(), static_cast<std::streamsize>(text.size()));
    std::ofstream(dir.path("data.txt")) << text;
  }
  auto r = run_in(dir.path(), "run '" + recipe(name) + "' --set " + model_var + "='" +
                                  mp::test::shared_path("models/stories260K") +
                                  "' --set data=data.txt --set out=" + out + " --set steps=3 --set batch=2 --set seq=64 "
                                  "--set warmup=1 --set nsamples=4" +
                                  small_run_sets());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

}  // namespace

TEST_CASE("modelpress run --dry-run prints the resolved plan and runs nothing", "[recipe]") {
  mp::test::ScratchDir dir;
  const auto r = run_in(dir.path(), "run '" + recipe("gptq-w4g128-vllm.yaml") +
                                        "' --dry-run --set nsamples=8 --set 'calib=my calib.txt' --set threads=1"
                                        " --set model=../shared/models/stories260K --set out=out/gptq-w4g128"
                                        " --set eval_text=../shared/corpora/tinystories/eval.txt");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out ==
        "modelpress quantize --model ../shared/models/stories260K --out out/gptq-w4g128 --method gptq --bits 4 "
        "--group-size 128 --sym --calib 'my calib.txt' --nsamples 8 --seqlen 0 --threads 1\n"
        "modelpress eval --model out/gptq-w4g128 --text ../shared/corpora/tinystories/eval.txt --chunks -1 "
        "--threads 1\n");
  CHECK(r.err.empty());
  CHECK(fs::is_empty(dir.path()));

  const auto only = run_in(dir.path(), "run '" + recipe("distill-then-quantize.yaml") +
                                           "' --dry-run --only export --set out=/tmp/d --set gguf_type=Q8_0 --set teacher=" +
                                           mp::test::shared_path("models/stories260K") + " --set data=data.txt --set eval_text=e.txt");
  CHECK(only.out ==
        "modelpress export --model /tmp/d/student-gptq-w4 --output /tmp/d/student-gptq-w4-Q4_K_M.gguf --type Q8_0\n");
  const auto unknown = run_in(dir.path(), "run '" + recipe("gguf-q4km.yaml") + "' --dry-run --set modle=x");
  CHECK(unknown.exit_code == 3);
  CHECK_THAT(unknown.err, Catch::Contains("--set modle=x: 'modle' is not a variable") &&
                              Catch::Contains("(vars: model, out, type, eval_text, eval_chunks, threads)"));
}

TEST_CASE("modelpress run refuses a bad recipe before running any step", "[recipe]") {
  mp::test::ScratchDir dir;
  const std::string model = mp::test::shared_path("models/stories260K");
  // The first step would write first.gguf; the problem is always in the second step or the file.
  auto recipe_with = [&](const std::string& top, const std::string& second) {
    return top + "vars:\n  model: \"\"\n"  // given with --set: it lies outside the recipe's directory
           "steps:\n"
           "  - name: first\n    tool: export\n    args:\n      model: ${model}\n      output: first.gguf\n"
           "  - name: second\n" +
           second;
  };
  struct Case {
    std::string what, yaml, step, key, problem;
  };
  const std::vector<Case> cases = {
      {"unknown top-level key", recipe_with("name: x\n", "    tool: inspect\n    args:\n      path: ${model}\n"), "",
       "name", "unknown top-level key"},
      {"unknown step key", recipe_with("", "    tool: inspect\n    argz:\n      path: ${model}\n"), "second", "argz",
       "unknown step key"},
      {"unknown tool", recipe_with("", "    tool: quantise\n"), "second", "tool", "unknown tool 'quantise'"},
      {"unknown option", recipe_with("", "    tool: eval\n    args:\n      model: x\n      text: y\n      chunk: 4\n"),
       "second", "chunk", "not an option of eval"},
      {"wrong type", recipe_with("", "    tool: eval\n    args:\n      model: x\n      text: y\n      chunks: four\n"),
       "second", "chunks", "four"},
      {"undefined var", recipe_with("", "    tool: eval\n    args:\n      model: ${out}\n      text: y\n"), "second",
       "model", "undefined variable 'out'"},
      {"missing required", recipe_with("", "    tool: eval\n    args:\n      model: x\n"), "second", "text",
       "required by eval"},
      {"duplicate step", recipe_with("", "    tool: inspect\n    args:\n      path: x\n  - name: first\n    tool: inspect\n"),
       "first", "name", "two steps have this name"},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      const std::string path = dir.path("bad.yaml");
      std::ofstream(path) << c.yaml;
      const auto r = run_in(dir.path(), "run '" + path + "' --set model='" + model + "'");
      INFO(c.yaml << "\n" << r.err);
      CHECK(r.exit_code == 3);
      CHECK_THAT(r.err, Catch::StartsWith("modelpress: error: " + path + ":"));
      if (!c.step.empty()) CHECK_THAT(r.err, Catch::Contains("step '" + c.step + "'"));
      CHECK_THAT(r.err, Catch::Contains("key '" + c.key + "'") && Catch::Contains(c.problem));
      CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
      CHECK_FALSE(fs::exists(dir.path("first.gguf")));
    }
  }
}

TEST_CASE("modelpress run stops at the first failing step with its exit code", "[recipe]") {
  mp::test::ScratchDir dir;
  const std::string path = dir.path("fails.yaml");
  std::ofstream(path) << "vars:\n  model: \"\"\n"  // given with --set: it lies outside the recipe's directory
                         "steps:\n"
                         "  - {name: export, tool: export, args: {model: \"${model}\", output: a.gguf, type: Q8_0}}\n"
                         "  - {name: eval, tool: eval, args: {model: a.gguf, text: missing.txt, threads: 1}}\n"
                         "  - {name: again, tool: export, args: {model: a.gguf, output: b.gguf}}\n";
  const std::string model = " --set model='" + mp::test::shared_path("models/stories260K") + "'";
  const auto r = run_in(dir.path(), "run '" + path + "'" + model);
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("run: step 1/3 export: modelpress export --model") &&
                        Catch::Contains("missing.txt") && Catch::EndsWith("run: step eval failed\n"));
  CHECK(fs::exists(dir.path("a.gguf")));
  CHECK_FALSE(fs::exists(dir.path("b.gguf")));

  // --from skips the steps before it: the recipe resumes at the failed step.
  const auto resumed = run_in(dir.path(), "run '" + path + "' --from again" + model);
  INFO(resumed.err);
  CHECK(resumed.exit_code == 0);
  CHECK(fs::exists(dir.path("b.gguf")));
}

TEST_CASE("recipe gptq-w4g128-vllm runs on stories260K", "[recipe][shipped]") {
  mp::test::ScratchDir dir;
  const auto r = run_in(dir.path(), "run '" + recipe("gptq-w4g128-vllm.yaml") + "' --set model='" +
                                        mp::test::shared_path("models/stories260K") + "' --set calib='" +
                                        mp::test::shared_path("corpora/tinystories/calib.txt") +
                                        "' --set nsamples=8 --set seqlen=128 --set out=out/gptq-w4g128" + small_run_sets());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  check_loads(dir.path("out/gptq-w4g128"), "qweight");
  check_manifest(dir.path("out/gptq-w4g128"), "gptq-w4g128-vllm.yaml", "quantize");
  std::ifstream config(dir.path("out/gptq-w4g128/config.json"));
  const auto q = nlohmann::json::parse(config)["quantization_config"];
  CHECK(q["quant_method"] == "gptq");
  CHECK(q["bits"] == 4);
  CHECK(q["group_size"] == 128);
  CHECK(q["sym"] == true);
  CHECK(q["desc_act"] == false);
  const auto ppl = perplexities(r.out);
  REQUIRE(ppl.size() == 1);
  CHECK(ppl[0] < 1.25 * float_perplexity());
}

TEST_CASE("recipe awq-w4g128-vllm runs on stories260K", "[recipe][shipped]") {
  mp::test::ScratchDir dir;
  const auto r = run_in(dir.path(), "run '" + recipe("awq-w4g128-vllm.yaml") + "' --set model='" +
                                        mp::test::shared_path("models/stories260K") + "' --set calib='" +
                                        mp::test::shared_path("corpora/tinystories/calib.txt") +
                                        "' --set nsamples=8 --set seqlen=128 --set out=out/awq-w4g128" + small_run_sets());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  check_loads(dir.path("out/awq-w4g128"), "qzeros");
  check_manifest(dir.path("out/awq-w4g128"), "awq-w4g128-vllm.yaml", "quantize");
  std::ifstream config(dir.path("out/awq-w4g128/config.json"));
  const auto q = nlohmann::json::parse(config)["quantization_config"];
  CHECK(q["quant_method"] == "awq");
  CHECK(q["version"] == "gemm");
  CHECK(q["zero_point"] == true);
  CHECK(q["group_size"] == 128);
  const auto ppl = perplexities(r.out);
  REQUIRE(ppl.size() == 1);
  CHECK(ppl[0] < 1.25 * float_perplexity());
}

TEST_CASE("recipe gguf-q4km runs on stories260K", "[recipe][shipped]") {
  mp::test::ScratchDir dir;
  const auto r = run_in(dir.path(), "run '" + recipe("gguf-q4km.yaml") + "' --set model='" +
                                        mp::test::shared_path("models/stories260K") +
                                        "' --set out=model-Q4_K_M.gguf" + small_run_sets());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  // stories260K's rows are too narrow for k-quant blocks, so every tensor takes llama.cpp's fallback
  // type; the file type still says Q4_K_M.
  check_loads(dir.path("model-Q4_K_M.gguf"), "general.file_type = 15");
  check_manifest(dir.path("model-Q4_K_M.gguf"), "gguf-q4km.yaml", "export");
  const auto ppl = perplexities(r.out);
  REQUIRE(ppl.size() == 1);
  CHECK(ppl[0] < 1.1 * float_perplexity());
}

TEST_CASE("recipe distill-then-quantize runs on stories260K", "[recipe][shipped]") {
  mp::test::ScratchDir dir;
  const auto r = run_training_recipe(dir, "distill-then-quantize.yaml", "teacher", "out/distilled");
  CHECK(fs::exists(dir.path("out/distilled/teacher-topk.h5")));
  CHECK_THAT(check_loads(dir.path("out/distilled/student"), "model.layers.2."), !Catch::Contains("model.layers.3."));
  check_loads(dir.path("out/distilled/student-gptq-w4"), "qweight");
  check_manifest(dir.path("out/distilled/teacher-topk.h5"), "distill-then-quantize.yaml", "distill");
  check_manifest(dir.path("out/distilled/student"), "distill-then-quantize.yaml", "distill");
  check_manifest(dir.path("out/distilled/student-gptq-w4"), "distill-then-quantize.yaml", "quantize");
  CHECK_THAT(check_loads(dir.path("out/distilled/student-gptq-w4-Q4_K_M.gguf"), "general.file_type = 15"),
             Catch::Contains("blk.2.") && !Catch::Contains("blk.3."));
  // Three evals: student, its GPTQ, the GGUF of the GPTQ; quantizing costs a little, not the model.
  const auto ppl = perplexities(r.out);
  REQUIRE(ppl.size() == 3);
  CHECK(ppl[0] < 100);  // the 3-layer student keeps most of the teacher (uniform guessing: 512)
  CHECK(ppl[1] < 1.3 * ppl[0]);
  CHECK(ppl[2] < 1.1 * ppl[1]);
}

TEST_CASE("recipe prune-distill-quantize runs on stories260K", "[recipe][shipped][prune]") {
  mp::test::ScratchDir dir;
  const auto r = run_training_recipe(dir, "prune-distill-quantize.yaml", "model", "out/pruned");
  // Half of stories260K's parameters, in widths that are multiples of 32 (GPTQ groups of 32 and
  // Q4_0 blocks fit without padding or fallbacks).
  const auto pruned = nlohmann::json::parse(mp::test::read_file(dir.path("out/pruned/pruned/prune_report.json")));
  CHECK(pruned["after"]["parameters"].get<int64_t>() <= pruned["before"]["parameters"].get<int64_t>() / 2);
  CHECK(pruned["after"]["hidden_size"].get<int64_t>() % 32 == 0);
  CHECK(pruned["after"]["intermediate_size"].get<int64_t>() % 32 == 0);
  check_manifest(dir.path("out/pruned/pruned"), "prune-distill-quantize.yaml", "prune");
  check_manifest(dir.path("out/pruned/student"), "prune-distill-quantize.yaml", "distill");
  check_loads(dir.path("out/pruned/student-gptq-w4"), "qweight");
  check_loads(dir.path("out/pruned/student-gptq-w4-Q4_0.gguf"), "blk.4.");
  const auto ppl = perplexities(r.out);
  REQUIRE(ppl.size() == 3);  // student, its GPTQ, the GGUF
  CHECK(ppl[0] < 512);       // better than uniform guessing over the 512 tokens
  CHECK(ppl[1] < 1.3 * ppl[0]);
  CHECK(ppl[2] < 1.1 * ppl[1]);
}
