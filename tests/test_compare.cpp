// compare: a model against its own copy has KL 0 and eval's PPL; quantized rows (RTN 4-bit, a Q8_0
// GGUF) have KL > 0 and the bits per weight their formats imply; storage is counted from the files.
#include <catch2/catch.hpp>

#include <filesystem>

#include "lib/eval/compare.h"
#include "lib/runtime/model_source.h"
#include "lib/tokenizer/tokenizer_train.h"
#include "tests/test_support.h"

using namespace mp;
namespace fs = std::filesystem;

TEST_CASE("compare: stories260K against its own copy has KL 0 and eval's perplexity", "[compare]") {
  test::ScratchDir dir;
  const std::string model = test::shared_path("models/stories260K");
  const std::string text = test::shared_path("corpora/tinystories/eval.txt");
  fs::copy(model, dir.path("copy"));
  PerplexityOptions options;
  options.ctx = 128;
  options.max_chunks = 16;
  const auto rows = compare_models(model, {dir.path("copy")}, text, options, RuntimeOptions{});
  REQUIRE(rows.size() == 1);
  const CompareRow& row = rows[0];
  CHECK(row.name == "copy");
  CHECK(row.report.comparison->kld_mean == Approx(0).margin(1e-9));
  CHECK(row.report.comparison->same_top1_percent == Approx(100));
  CHECK(row.report.tokens_per_s > 0);

  const auto eval = test::run_modelpress("eval --model '" + model + "' --text '" + text +
                                         "' --ctx 128 --chunks 16 --threads 1 --quiet --json --dtype f32");
  REQUIRE(eval.exit_code == 0);
  CHECK(row.report.ppl == Approx(nlohmann::json::parse(eval.out)["ppl"].get<double>()).epsilon(1e-12));

  // Float32 weights: 32 bits per weight; the file is the weights plus a safetensors header.
  const ModelFootprint& f = row.footprint;
  CHECK(f.file_bytes == fs::file_size(dir.path("copy/model.safetensors")));
  CHECK(f.linear_bits_per_weight() == Approx(32));
  CHECK(f.bits_per_weight() == Approx(8.0 * static_cast<double>(f.file_bytes) / 260032.0));
  CHECK(f.bits_per_weight() > 32);
  CHECK(f.bits_per_weight() < 32.5);  // the header (names, shapes, offsets) is a few kB
  // stories260K: 260,032 parameters (tied embeddings counted once), as inspect counts them.
  CHECK(f.parameters == 260032);
  CHECK(f.linear_weights == 5 * (64 * 64 + 32 * 64 + 32 * 64 + 64 * 64 + 3 * 172 * 64));  // q k v o gate up down
}

TEST_CASE("compare: RTN 4-bit and Q8_0 GGUF rows have KL > 0 and their formats' bits per weight", "[compare]") {
  test::ScratchDir dir;
  // Rows fill 32-wide Q8_0 blocks and 32-wide quantization groups; stories260K's vocabulary.
  test::write_random_model(dir.path("model"), test::kquant_config(), 7);
  fs::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("model/tokenizer.model"));
  const std::string text = test::shared_path("corpora/tinystories/eval.txt");
  const std::string m = "'" + dir.path("model") + "'";
  REQUIRE(test::run_modelpress("quantize --method rtn --bits 4 --group-size 32 --model " + m + " --out '" +
                               dir.path("rtn") + "' --calib '" + text + "' --nsamples 4 --seqlen 64 --threads 1 --quiet")
              .exit_code == 0);
  REQUIRE(test::run_modelpress("export --to gguf --type Q8_0 --model " + m + " --output '" + dir.path("q8.gguf") +
                               "' --quiet")
              .exit_code == 0);
  PerplexityOptions options;
  options.ctx = 64;
  options.max_chunks = 8;
  const auto rows =
      compare_models(dir.path("model"), {dir.path("rtn"), dir.path("q8.gguf")}, text, options, RuntimeOptions{});
  REQUIRE(rows.size() == 2);
  for (const CompareRow& row : rows) {
    INFO(row.name);
    CHECK(row.report.comparison->kld_mean > 0);
    CHECK(std::isfinite(row.report.ppl));
    CHECK(row.footprint.file_bytes > 0);
  }
  // GPTQ layout, 4 bits + an f16 scale and a 4-bit zero per 32 weights + an int32 g_idx per input.
  CHECK(rows[0].footprint.linear_bits_per_weight() > 4.6);
  CHECK(rows[0].footprint.linear_bits_per_weight() < 4.8);
  // Q8_0: 32 int8 weights and one f16 scale per block = 8.5 bits exactly.
  CHECK(rows[1].footprint.linear_bits_per_weight() == Approx(8.5));
  CHECK(rows[1].footprint.file_bytes == fs::file_size(dir.path("q8.gguf")));
  CHECK(rows[1].name == "q8.gguf");

  // Same shapes, another tokenizer: the KL would compare unrelated distributions, so it is refused.
  fs::copy(dir.path("model"), dir.path("other"));
  TokenizerTrainOptions tok;
  tok.text = text;
  tok.out = dir.path("other-tokenizer");
  tok.vocab_size = 512;
  train_tokenizer(tok);
  fs::copy_file(dir.path("other-tokenizer/tokenizer.model"), dir.path("other/tokenizer.model"),
                fs::copy_options::overwrite_existing);
  CHECK_THROWS_WITH(compare_models(dir.path("model"), {dir.path("other")}, text, options, RuntimeOptions{}),
                    Catch::StartsWith(dir.path("other") + ": tokenizes the text differently"));
}
