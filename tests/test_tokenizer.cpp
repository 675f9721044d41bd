// SentencePiece through the isolated shim: llama.cpp's tokenizer test vectors, the stories260K
// prompt, and tokenizing in the same process as LibTorch.
#include <fstream>
#include <sstream>

#include "lib/runtime/runtime.h"
#include "lib/tokenizer/tokenizer.h"
#include "tests/test_support.h"
#include "tests/tokenizer_files.h"

using namespace mp;

TEST_CASE("tokenizer reproduces llama.cpp's llama-spm test vectors", "[tokenizer]") {
  Tokenizer tok = Tokenizer::from_file(test::shared_path("tokenizer-vectors/llama2-tokenizer.model"));
  CHECK(tok.vocab_size() == 32000);
  const auto vectors = test::vocab_vectors("llama-spm");
  REQUIRE(vectors.size() == 46);
  for (size_t i = 0; i < vectors.size(); ++i) {
    INFO("vector " << i << ": \"" << vectors[i].first << "\"");
    CHECK(tok.encode(vectors[i].first, /*add_special=*/false) == vectors[i].second);
  }
}

TEST_CASE("tokenizer: stories260K prompt ids and token types", "[tokenizer]") {
  Tokenizer tok = Tokenizer::from_file(test::shared_path("models/stories260K/tokenizer.model"));
  CHECK(tok.encode("Once upon a time", true) == std::vector<int32_t>{1, 403, 407, 261, 378});
  CHECK(tok.decode({403, 407, 261, 378}) == "Once upon a time");
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.type(0) == TokenType::unknown);
  CHECK(tok.type(1) == TokenType::control);
  CHECK(tok.type(3) == TokenType::byte);
  CHECK(tok.token_text(3, false) == std::string(1, '\0'));
  CHECK(tok.type(403) == TokenType::normal);
  CHECK(tok.token_text(407, false) == " upon");
  // A rebuilt tokenizer from the serialized model behaves the same.
  Tokenizer copy = Tokenizer::from_proto(tok.serialized_proto(), "copy");
  CHECK(copy.encode("Lily and Ben went to the park.", true) == tok.encode("Lily and Ben went to the park.", true));
}

TEST_CASE("tokenizer and a LibTorch computation share one process", "[tokenizer]") {
  Tokenizer tok = Tokenizer::from_file(test::shared_path("models/stories260K/tokenizer.model"));
  auto ids = tok.encode("The cat sat on the mat.", true);
  at::Tensor t = at::tensor(std::vector<int64_t>(ids.begin(), ids.end()));
  at::Tensor m = at::matmul(at::ones({2, static_cast<int64_t>(ids.size())}), t.to(at::kFloat));
  int64_t sum = 0;
  for (auto id : ids) sum += id;
  CHECK(m[1].item<float>() == Approx(static_cast<float>(sum)));
}

TEST_CASE("tokenizer: a file that is not a SentencePiece model is bad input", "[tokenizer]") {
  test::ScratchDir dir;
  std::ofstream(dir.path("bogus.model")) << "definitely not a protobuf";
  CHECK_THROWS_WITH(Tokenizer::from_file(dir.path("bogus.model")), Catch::StartsWith(dir.path("bogus.model") + ": not a SentencePiece model"));
}

// A model's vocabulary may be padded past its tokenizer's (Qwen's is): sampled padding ids have no
// text, and a table lookup past the tokenizer is an error naming it, never a read past its pieces.
TEST_CASE("tokenizer: ids outside the tokenizer have no text and no piece", "[tokenizer]") {
  const Tokenizer spm = Tokenizer::from_file(test::shared_path("models/stories260K/tokenizer.model"));
  const Tokenizer bpe = Tokenizer::open(test::hf_tokenizer_json("llama3"));
  for (const Tokenizer* tok : {&spm, &bpe}) {
    INFO(tok->origin());
    const int32_t n = tok->vocab_size(), word = tok->encode("upon", false).at(0);
    CHECK(tok->decode({word, n, -1, n + 1000}) == tok->decode({word}));
    CHECK(tok->token_text(n, false).empty());
    CHECK(tok->token_text(-1, false).empty());
    for (int32_t id : {n, -1}) {
      CHECK_THROWS_WITH(tok->piece(id), Catch::StartsWith(tok->origin() + ": token id " + std::to_string(id) + " is outside"));
      CHECK_THROWS_AS(tok->type(id), Error);
      CHECK_THROWS_AS(tok->score(id), Error);
    }
  }
}
