// `modelpress tokenize` end to end on the shared TinyStories corpus.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "distill/token_dataset.h"
#include "distill/tokenize_corpus.h"
#include "lib/tokenizer/tokenizer.h"
#include "tests/test_support.h"

namespace {
std::vector<std::string> documents_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> docs;
  mp::for_each_document(in, [&](const std::string& d) { docs.push_back(d); });
  return docs;
}
}  // namespace

TEST_CASE("documents are runs of non-blank lines", "[distill][tokenize]") {
  CHECK(documents_of("one\ntwo \n\n \n\nthree\r\n\r\nfour") ==
        std::vector<std::string>{"one\ntwo ", "three", "four"});
  CHECK(documents_of("\n\n").empty());
}

TEST_CASE("modelpress tokenize writes the TinyStories eval set", "[distill][tokenize]") {
  const std::string tokenizer_path = mp::test::shared_path("models/stories260K/tokenizer.model");
  const std::string corpus = mp::test::shared_path("corpora/tinystories/eval.txt");
  mp::test::ScratchDir dir;
  const std::string out = dir.path("eval.h5");
  const auto result = mp::test::run_modelpress("tokenize --tokenizer '" + tokenizer_path +
                                               "' --out '" + out + "' '" + corpus + "'");
  INFO(result.err);
  REQUIRE(result.exit_code == 0);

  mp::TokenDataset ds(out);
  CHECK(ds.n_tokens() > 100000);
  CHECK(ds.tokenizer_sha256() == mp::sha256_file(tokenizer_path));
  REQUIRE(ds.sources().size() == 1);
  CHECK(ds.sources()[0].file == corpus);
  CHECK(ds.sources()[0].sha256 == mp::sha256_file(corpus));

  std::ifstream in(corpus, std::ios::binary);
  std::string first_story, line;
  while (std::getline(in, line) && !line.empty()) first_story += (first_story.empty() ? "" : "\n") + line;
  const mp::Tokenizer tokenizer = mp::Tokenizer::from_file(tokenizer_path);
  std::vector<int32_t> first = ds.document(0);
  REQUIRE(first.front() == tokenizer.bos_id());
  first.erase(first.begin());
  CHECK(tokenizer.decode(first) == first_story);
  CHECK(ds.n_documents() > 100);
}

TEST_CASE("modelpress tokenize rejects a missing input with exit code 3", "[distill][tokenize]") {
  const std::string tokenizer_path = mp::test::shared_path("models/stories260K/tokenizer.model");
  mp::test::ScratchDir dir;
  const auto result = mp::test::run_modelpress("tokenize --tokenizer '" + tokenizer_path +
                                               "' --out '" + dir.path("x.h5") + "' '" +
                                               dir.path("nope.txt") + "'");
  CHECK(result.exit_code == 3);
  CHECK(result.err == "modelpress: error: " + dir.path("nope.txt") + ": cannot open: No such file or directory\n");
  CHECK(std::filesystem::is_empty(dir.root));
}
