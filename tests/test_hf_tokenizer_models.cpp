// Models that ship only tokenizer.json, end to end through the CLI: random Llama-3-shaped and
// Qwen-shaped models with the real Llama 3 and Qwen 3 tokenizers evaluate and GPTQ-quantize; a
// tokenizer larger than the embedding, or a broken tokenizer.json, is one line and exit code 3.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/tokenizer_files.h"

namespace fs = std::filesystem;
using namespace mp;

namespace {

// A random two-layer model of hidden size 32 with `vocab` embedding rows and the package's tokenizer
// files (tokenizer.json, tokenizer_config.json), no tokenizer.model.
std::string model_with_tokenizer(const test::ScratchDir& dir, const std::string& model_type, int64_t vocab,
                                 const std::string& package) {
  nlohmann::json config = test::tiny_config(model_type);
  config["vocab_size"] = vocab;
  config["tie_word_embeddings"] = true;
  const std::string model = dir.path(package);
  test::write_random_model(model, config, 3);
  const fs::path json = test::hf_tokenizer_json(package);
  fs::copy_file(json, fs::path(model) / "tokenizer.json");
  fs::copy_file(json.parent_path() / "tokenizer_config.json", fs::path(model) / "tokenizer_config.json");
  return model;
}

// A short text: the first 4 KB of TinyStories' eval text.
std::string small_text(const test::ScratchDir& dir) {
  const std::string path = dir.path("text.txt");
  std::ofstream(path) << read_text_file(test::shared_path("corpora/tinystories/eval.txt")).substr(0, 4096);
  return path;
}

void eval_and_gptq(const std::string& model_type, int64_t vocab, const std::string& package) {
  test::ScratchDir dir;
  const std::string model = model_with_tokenizer(dir, model_type, vocab, package), text = small_text(dir);
  const auto eval = test::run_modelpress("eval --model '" + model + "' --text '" + text +
                                         "' --ctx 64 --chunks 2 --json --threads 1 --quiet");
  INFO(eval.err);
  REQUIRE(eval.exit_code == 0);
  const auto report = nlohmann::json::parse(eval.out);
  CHECK(report["chunks"] == 2);
  CHECK(std::isfinite(report["ppl"].get<double>()));
  // A random model's perplexity is near the vocabulary size, far above a trained one's.
  CHECK(report["ppl"].get<double>() > 1000);
  const auto gptq = test::run_modelpress("quantize --method gptq --bits 4 --group-size 16 --model '" + model +
                                         "' --out '" + dir.path("gptq") + "' --calib '" + text +
                                         "' --nsamples 2 --seqlen 32 --threads 1 --quiet");
  INFO(gptq.err);
  CHECK(gptq.exit_code == 0);
  CHECK(fs::exists(dir.path("gptq") + "/config.json"));
}

}  // namespace

TEST_CASE("a Llama-3-shaped model with only tokenizer.json evaluates and GPTQ-quantizes", "[tokenizer][hf_tokenizer][cli]") {
  eval_and_gptq("llama", 128256, "llama3");
}

TEST_CASE("a Qwen-shaped model with Qwen 3's tokenizer.json evaluates and GPTQ-quantizes", "[tokenizer][hf_tokenizer][cli]") {
  eval_and_gptq("qwen2", 151936, "qwen3");  // Qwen's embedding has rows past its tokenizer's 151669 tokens
}

TEST_CASE("a tokenizer with more tokens than the model's embedding is bad input", "[tokenizer][hf_tokenizer][cli]") {
  test::ScratchDir dir;
  const std::string model = model_with_tokenizer(dir, "llama", 1000, "qwen3"), text = small_text(dir);
  const auto eval = test::run_modelpress("eval --model '" + model + "' --text '" + text + "' --ctx 64 --quiet");
  CHECK(eval.exit_code == 3);
  CHECK(eval.err == "modelpress: error: " + model + "/tokenizer.json: the tokenizer has 151669 tokens but the model's "
                    "embedding has 1000 rows (vocab_size in config.json)\n");
}

TEST_CASE("malformed tokenizer.json files are one line and exit code 3", "[tokenizer][hf_tokenizer][cli]") {
  test::ScratchDir dir;
  std::ofstream(dir.path("text.txt")) << "Hello world\n\nSecond paragraph\n";
  const nlohmann::json good = {
      {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}}};
  auto run = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir.path(name)) << content;
    return test::run_modelpress("tokenize --tokenizer '" + dir.path(name) + "' --ids '" + dir.path("text.txt") + "'");
  };
  auto expect = [&](const std::string& name, const std::string& content, const std::string& problem) {
    const auto r = run(name, content);
    INFO(name << ": " << r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    CHECK(r.err == "modelpress: error: " + dir.path(name) + ": " + problem + "\n");
  };
  auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json doc = good;
    doc[key] = value;
    return doc.dump();
  };
  auto with_model = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json doc = good;
    doc["model"][key] = value;
    return doc.dump();
  };
  expect("truncated.json", good.dump().substr(0, 20), "not valid JSON (at byte 21)");
  expect("unigram.json", with_model("type", "Unigram"), "model type Unigram is not supported (only BPE)");
  expect("normalizer.json", with("normalizer", {{"type", "Precompiled"}}), "normalizer type Precompiled is not supported");
  expect("pretokenizer.json", with("pre_tokenizer", {{"type", "UnicodeScripts"}}), "pre-tokenizer type UnicodeScripts is not supported");
  expect("regex.json", with("pre_tokenizer", {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}}),
         "regex \"(unclosed\" does not compile at offset 9: missing closing parenthesis");
  expect("merge.json", with_model("merges", {"a c"}), "merge 0 names a token not in the vocab: \"c\"");
  expect("duplicate.json", with_model("vocab", {{"a", 0}, {"b", 0}, {"ab", 2}}), "vocab id 0 is given to \"a\" and \"b\"");
  expect("gap.json", with_model("vocab", {{"a", 0}, {"b", 1}, {"ab", 3}}), "no token has id 2 (ids must run from 0 without gaps)");
  // The good document itself tokenizes: one line per paragraph.
  const auto ok = run("good.json", good.dump());
  INFO(ok.err);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("modelpress tokenize --ids prints llama.cpp's vector lines, the same on any thread count", "[tokenizer][hf_tokenizer][cli]") {
  test::ScratchDir dir;
  const std::string json = test::hf_tokenizer_json("llama3");
  const auto vectors = test::vocab_vectors("llama-bpe");
  // Paragraph texts without blank lines inside, so that --ids sees each as one paragraph.
  std::string text, expected;
  for (const auto& [input, ids] : vectors) {
    if (input.find_first_not_of(" \t\r\n") == std::string::npos || input.find_first_of("\r\n") != std::string::npos) continue;
    text += input + "\n\n";
    std::string line = "128000";
    for (int32_t id : ids) line += " " + std::to_string(id);
    expected += line + "\n";
  }
  std::ofstream(dir.path("vectors.txt")) << text;
  for (const char* threads : {"1", "3"}) {
    const auto r = test::run_modelpress("tokenize --tokenizer '" + json + "' --ids '" + dir.path("vectors.txt") + "' --bos --threads " + threads);
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out == expected);
  }
}
