// tokenizer.json: llama.cpp's vocab test vectors with the real Llama 3 and Qwen 3 files, special
// tokens, decoding, streaming text, and both backends beside LibTorch in one process.
#include <fstream>

#include "lib/tokenizer/tokenizer.h"
#include "tests/tokenizer_files.h"

using namespace mp;

namespace {

void check_vectors(const Tokenizer& tok, const std::string& vocab) {
  const auto vectors = test::vocab_vectors(vocab);
  REQUIRE(vectors.size() > 30);
  size_t matched = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    INFO(vocab << " vector " << i << ": \"" << vectors[i].first << "\"");
    const bool same = tok.encode(vectors[i].first, /*add_special=*/false) == vectors[i].second;
    CHECK(same);
    matched += same;
    // Decoding gives the text back (these tokenizers do not normalize away anything in the vectors).
    CHECK(tok.decode(vectors[i].second) == vectors[i].first);
  }
  CHECK(matched == vectors.size());
}

}  // namespace

TEST_CASE("tokenizer.json: Llama 3 reproduces llama.cpp's llama-bpe vectors", "[tokenizer][hf_tokenizer]") {
  const Tokenizer tok = Tokenizer::open(test::hf_tokenizer_json("llama3"));
  CHECK(tok.kind() == VocabKind::byte_level_bpe);
  CHECK(tok.vocab_size() == 128256);
  check_vectors(tok, "llama-bpe");
}

TEST_CASE("tokenizer.json: Qwen 3 reproduces llama.cpp's qwen2 vectors", "[tokenizer][hf_tokenizer]") {
  const Tokenizer tok = Tokenizer::open(test::hf_tokenizer_json("qwen3"));
  CHECK(tok.kind() == VocabKind::byte_level_bpe);
  check_vectors(tok, "qwen2");
}

TEST_CASE("tokenizer.json: special tokens, BOS rules and token types of the real tokenizers", "[tokenizer][hf_tokenizer]") {
  const Tokenizer llama3 = Tokenizer::open(test::hf_tokenizer_json("llama3"));
  // This copy's post-processor is ByteLevel and its tokenizer_config.json sets no add_bos_token:
  // transformers adds no BOS with it, and neither do we (llama.cpp's GGUF of Meta's file does).
  CHECK(llama3.bos_id() == 128000);
  CHECK(llama3.eos_id() == 128001);
  CHECK_FALSE(llama3.adds_bos());
  CHECK(llama3.type(128000) == TokenType::control);
  CHECK(llama3.type(9906) == TokenType::normal);
  CHECK(llama3.encode("<|begin_of_text|>Hello", false) == std::vector<int32_t>{128000, 9906});
  CHECK(llama3.merges().size() == 280147);
  CHECK(llama3.merges().front() == "\xC4\xA0 \xC4\xA0");  // "Ġ Ġ": two spaces
  const Tokenizer qwen3 = Tokenizer::open(test::hf_tokenizer_json("qwen3"));
  CHECK(qwen3.bos_id() == -1);
  CHECK_FALSE(qwen3.adds_bos());
  CHECK(qwen3.eos_id() == 151645);  // <|im_end|>
  CHECK(qwen3.pad_id() == 151643);  // <|endoftext|>
  CHECK(qwen3.vocab_size() == 151669);
  const Tokenizer gemma3 = Tokenizer::open(test::hf_tokenizer_json("gemma3"));
  CHECK(gemma3.kind() == VocabKind::sentencepiece);
  CHECK(gemma3.adds_bos());
  CHECK(gemma3.encode("Hello", true).front() == 2);
  CHECK(gemma3.type(gemma3.encode("\xF0\x9F\xAB\xA8", false).front()) == TokenType::byte);  // an emoji past the vocab
  const Tokenizer mistral = Tokenizer::open(test::hf_tokenizer_json("llama2"));
  CHECK(mistral.adds_bos());
  CHECK(mistral.encode("Hello world", true) == std::vector<int32_t>{1, 22557, 1526});
  CHECK(mistral.decode(mistral.encode("Hello  world\n", true)) == "Hello  world\n");
}

TEST_CASE("tokenizer.json: token_text streams the decoded text byte for byte", "[tokenizer][hf_tokenizer]") {
  const std::string text = "Caf\xC3\xA9 \xF0\x9F\x9A\x80 in \xE6\x97\xA5\xE6\x9C\xAC\n  ok";
  for (const char* name : {"llama3", "gemma3", "llama2"}) {
    INFO(name);
    const Tokenizer tok = Tokenizer::open(test::hf_tokenizer_json(name));
    const std::vector<int32_t> ids = tok.encode(text, true);
    std::string streamed;
    for (size_t i = 0; i < ids.size(); ++i) streamed += tok.token_text(ids[i], streamed.empty());
    CHECK(streamed == text);
    CHECK(tok.decode(ids) == text);
  }
}

TEST_CASE("tokenizer.json, SentencePiece and LibTorch in one process", "[tokenizer][hf_tokenizer]") {
  const Tokenizer spm = Tokenizer::from_file(test::shared_path("models/stories260K/tokenizer.model"));
  const Tokenizer hf = Tokenizer::open(test::hf_tokenizer_json("llama3"));
  const std::string text = "Once upon a time";
  const std::vector<int32_t> a = spm.encode(text, true), b = hf.encode(text, true);
  CHECK(a == std::vector<int32_t>{1, 403, 407, 261, 378});  // as tests/test_tokenizer.cpp has it
  CHECK(b == std::vector<int32_t>{12805, 5304, 264, 892});  // as transformers.js has it
  at::Tensor t = at::tensor(std::vector<int64_t>(b.begin(), b.end())).to(at::kFloat);
  CHECK(at::sum(t).item<float>() == Approx(12805 + 5304 + 264 + 892));
  CHECK(spm.decode(a) == text);
  CHECK(hf.decode(b) == text);
}
