// The demo's chain (scripts/demo.sh, recipes/demo.yaml) at toy size through the CLI: tokenizer ->
// teacher from scratch -> cached-teacher distillation -> GPTQ and AWQ -> GGUF -> compare. Every
// artifact loads, the table has a finite row per model, and the teacher beats a unigram model.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>

#include "lib/runtime/model_source.h"
#include "lib/runtime/runtime.h"
#include "lib/tokenizer/tokenizer.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// The first `bytes` of a file, cut at a line end, written into the scratch dir.
std::string text_prefix(const std::string& from, size_t bytes, const std::string& to) {
  std::string text = read_text_file(from).substr(0, bytes);
  text = text.substr(0, text.rfind('\n') + 1);
  std::ofstream(to, std::ios::binary) << text;
  return text;
}

// Perplexity of the add-one-smoothed unigram distribution of `train` on `eval` (BOS excluded).
double unigram_ppl(const std::vector<int32_t>& train, const std::vector<int32_t>& eval, int32_t vocab) {
  std::vector<double> counts(static_cast<size_t>(vocab), 1.0);
  for (size_t i = 1; i < train.size(); ++i) counts[static_cast<size_t>(train[i])] += 1;
  const double total = static_cast<double>(train.size() - 1 + static_cast<size_t>(vocab));
  double nll = 0;
  for (size_t i = 1; i < eval.size(); ++i) nll -= std::log(counts[static_cast<size_t>(eval[i])] / total);
  return std::exp(nll / static_cast<double>(eval.size() - 1));
}

void run(const std::string& args) {
  INFO("modelpress " << args);
  const auto r = test::run_modelpress(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("demo pipeline at toy size: every artifact loads and the teacher beats unigram", "[demo]") {
  test::ScratchDir dir;
  const std::string corpora = test::shared_path("corpora/tinystories");
  const std::string train = text_prefix(corpora + "/calib.txt", 150000, dir.path("train.txt"));
  const std::string eval = text_prefix(corpora + "/eval.txt", 40000, dir.path("eval.txt"));
  const auto q = [&](const std::string& name) { return "'" + dir.path(name) + "'"; };

  run("tokenizer-train --text " + q("train.txt") + " --vocab-size 384 --out " + q("tokenizer"));
  nlohmann::json config = test::tiny_config();
  config.update({{"hidden_size", 64}, {"intermediate_size", 128}, {"num_attention_heads", 2},
                 {"num_key_value_heads", 2}, {"vocab_size", 384}, {"tie_word_embeddings", true}});
  std::ofstream(dir.path("teacher-config.json")) << config.dump(2);
  const std::string training = " --batch 8 --seq 64 --seed 1 --threads 1 --quiet";
  run("distill-train --student-config " + q("teacher-config.json") + " --tokenizer " + q("tokenizer") + " --data " +
      q("train.txt") + " --out " + q("teacher") + " --steps 300 --lr 1e-2 --min-lr 1e-3 --warmup 5" + training);
  run("distill-train --teacher " + q("teacher") + " --init-from-teacher --keep-layers 1 --cache-teacher " +
      q("cache.h5") + " --data " + q("teacher/train.tokens.h5") + " --out " + q("student") +
      " --steps 10 --lr 5e-3 --warmup 2" + training);
  for (const char* method : {"gptq", "awq"})
    run(std::string("quantize --method ") + method + " --bits 4 --group-size 32 --model " + q("student") +
        " --out " + q(std::string("student-") + method) + " --calib " + q("train.txt") +
        " --nsamples 4 --seqlen 64 --threads 1 --quiet");
  run("export --to gguf --type Q4_0 --model " + q("student") + " --output " + q("student-q4_0.gguf") + " --quiet");
  run("export --to gguf --type Q8_0 --model " + q("teacher") + " --output " + q("teacher-q8_0.gguf") + " --quiet");

  const std::vector<std::string> models = {"teacher", "teacher-q8_0.gguf", "student", "student-gptq", "student-awq",
                                           "student-q4_0.gguf"};
  for (const std::string& m : models) {
    INFO(m);
    const auto source = open_model(dir.path(m));
    CHECK(source->config().vocab_size == 384);
    CHECK(source->config().num_layers == (m.rfind("teacher", 0) == 0 ? 2 : 1));
    CHECK(source->tokenizer().encode(eval, true) == Tokenizer::from_file(dir.path("tokenizer/tokenizer.model")).encode(eval, true));
  }

  std::string paths;
  for (const std::string& m : models) paths += " " + q(m);
  const auto r = test::run_modelpress("compare --reference " + q("teacher") + " --text " + q("eval.txt") +
                                      " --ctx 64 --chunks 100 --threads 1 --quiet --json" + paths);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto rows = nlohmann::json::parse(r.out);
  REQUIRE(rows.size() == models.size());
  for (size_t i = 0; i < models.size(); ++i) {
    INFO(models[i]);
    CHECK(rows[i]["name"] == models[i]);
    for (const char* key : {"ppl", "kld_mean", "same_top1_percent", "tokens_per_s", "bits_per_weight",
                            "linear_bits_per_weight"})
      CHECK(std::isfinite(rows[i][key].get<double>()));
    CHECK(rows[i]["file_bytes"].get<int64_t>() > 0);
    if (i > 0) CHECK(rows[i]["kld_mean"].get<double>() > 0);
  }
  CHECK(rows[0]["kld_mean"].get<double>() == Approx(0).margin(1e-9));
  CHECK(rows[0]["linear_bits_per_weight"].get<double>() == Approx(32));
  // GPTQ 4-bit: + f16 scale and 4-bit zero per 32 weights, + an int32 g_idx per input column (64 or 128 rows).
  CHECK(rows[3]["linear_bits_per_weight"].get<double>() > 4.6);
  CHECK(rows[3]["linear_bits_per_weight"].get<double>() < 5.2);

  const Tokenizer tok = Tokenizer::from_file(dir.path("tokenizer/tokenizer.model"));
  const double unigram = unigram_ppl(tok.encode(train, true), tok.encode(eval, true), 384);
  const double teacher = rows[0]["ppl"].get<double>();
  INFO("teacher PPL " << teacher << ", unigram PPL " << unigram);
  // A toy model leaves the unigram plateau slowly (the demo's teacher ends at 0.5x); 300 steps of
  // 512 tokens are enough for a clear margin.
  CHECK(teacher < 0.95 * unigram);
}
