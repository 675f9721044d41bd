// tokenizer-train: a Llama-style SentencePiece tokenizer trained on a small text round-trips that
// text, has the asked vocabulary and special pieces, trains byte-identically twice, and lives in one
// process with LibTorch.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/base/error.h"
#include "lib/runtime/runtime.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/tokenizer/tokenizer_train.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// The first ~200 kB of TinyStories calib.txt: enough for 400 pieces, quick to train on.
std::string small_text(const test::ScratchDir& dir) {
  std::string text = read_text_file(test::shared_path("corpora/tinystories/calib.txt")).substr(0, 200000);
  text = text.substr(0, text.rfind('\n') + 1);
  std::ofstream(dir.path("text.txt"), std::ios::binary) << text;
  return text;
}

TokenizerTrainOptions options(const test::ScratchDir& dir, const std::string& out) {
  TokenizerTrainOptions o;
  o.text = dir.path("text.txt");
  o.out = dir.path(out);
  o.vocab_size = 400;
  return o;
}

std::string file_bytes(const std::string& path) { return read_text_file(path); }

}  // namespace

TEST_CASE("tokenizer-train: Llama-style tokenizer that round-trips its text, deterministically", "[tokenizer_train]") {
  test::ScratchDir dir;
  const std::string text = small_text(dir);
  const TokenizerTrainReport report = train_tokenizer(options(dir, "a"));
  CHECK(report.vocab_size == 400);

  const Tokenizer tok = Tokenizer::from_file(dir.path("a/tokenizer.model"));
  CHECK(tok.vocab_size() == 400);
  CHECK(tok.unk_id() == 0);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.pad_id() == -1);
  int bytes = 0;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) bytes += tok.type(id) == TokenType::byte;
  CHECK(bytes == 256);

  const std::vector<int32_t> ids = tok.encode(text, /*add_special=*/true);
  CHECK(ids.front() == 1);
  CHECK(report.text_tokens == static_cast<int64_t>(ids.size()) - 1);
  CHECK(ids.size() < text.size() * 7 / 10);  // the merges compress: not a byte-level fallback
  CHECK(tok.decode(ids) == text);
  // Characters the training text never saw still round-trip, through byte pieces.
  const std::string unseen = "Zürich 2024: naïve café — 東京\ttab";
  CHECK(tok.decode(tok.encode(unseen, false)) == unseen);
  CHECK(tok.encode("12345", false).size() >= 5);  // digits are split

  const auto config = nlohmann::json::parse(file_bytes(dir.path("a/tokenizer_config.json")));
  CHECK(config["add_bos_token"] == true);
  CHECK(config["add_eos_token"] == false);

  train_tokenizer(options(dir, "b"));
  CHECK(file_bytes(dir.path("a/tokenizer.model")) == file_bytes(dir.path("b/tokenizer.model")));
  TokenizerTrainOptions unigram = options(dir, "u");
  unigram.model_type = "unigram";
  train_tokenizer(unigram);
  const Tokenizer u = Tokenizer::from_file(dir.path("u/tokenizer.model"));
  CHECK(u.vocab_size() == 400);
  CHECK(u.decode(u.encode(text, false)) == text);
  CHECK(file_bytes(dir.path("u/tokenizer.model")) != file_bytes(dir.path("a/tokenizer.model")));

  // Training and tokenizing loaded SentencePiece; LibTorch still computes in the same process.
  at::Tensor t = at::tensor(std::vector<int64_t>(ids.begin(), ids.begin() + 16)).to(at::kFloat);
  double sum = 0;
  for (int i = 0; i < 16; ++i) sum += ids[i];
  CHECK(at::matmul(at::ones({2, 16}), t)[1].item<float>() == Approx(sum));
}

TEST_CASE("tokenizer-train: bad input is one clear error and leaves no output", "[tokenizer_train]") {
  test::ScratchDir dir;
  small_text(dir);
  TokenizerTrainOptions too_small = options(dir, "small");
  too_small.vocab_size = 100;
  CHECK_THROWS_WITH(train_tokenizer(too_small), Catch::StartsWith("--vocab-size: must exceed 259"));
  TokenizerTrainOptions missing = options(dir, "missing");
  missing.text = dir.path("absent.txt");
  CHECK_THROWS_WITH(train_tokenizer(missing), Catch::StartsWith(dir.path("absent.txt") + ": cannot open"));
  TokenizerTrainOptions bad_type = options(dir, "bad");
  bad_type.model_type = "wordpiece";
  CHECK_THROWS_WITH(train_tokenizer(bad_type), Catch::StartsWith("--model-type"));
  // More required characters than pieces: SentencePiece's own complaint, naming the text.
  TokenizerTrainOptions tight = options(dir, "tight");
  std::ofstream(dir.path("many-chars.txt")) << "αβγδεζηθικλμνξοπρστυφχψω ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞß\n";
  tight.text = dir.path("many-chars.txt");
  tight.vocab_size = 260;
  CHECK_THROWS_WITH(train_tokenizer(tight), Catch::StartsWith(dir.path("many-chars.txt") + ": SentencePiece training failed"));
  for (const char* out : {"small", "missing", "bad", "tight"}) CHECK_FALSE(std::filesystem::exists(dir.path(out)));

  const auto r = test::run_modelpress("tokenizer-train --text '" + dir.path("absent.txt") + "' --out '" + dir.path("x") + "'");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find(dir.path("absent.txt") + ": cannot open") != std::string::npos);
}
