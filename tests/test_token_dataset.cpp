// Token datasets: round trip, provenance attributes, window readers, atomic output, bad input.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "distill/token_dataset.h"
#include "formats/hdf5_file.h"
#include "lib/base/error.h"
#include "tests/test_support.h"

namespace {

// Documents of varied lengths whose ids encode their position, so misplaced reads show.
std::vector<std::vector<int32_t>> make_documents(int count, int max_length) {
  std::vector<std::vector<int32_t>> docs;
  int32_t next = 0;
  for (int d = 0; d < count; ++d) {
    std::vector<int32_t> doc(static_cast<size_t>(1 + (d * 7919) % max_length));
    for (auto& id : doc) id = next++;
    docs.push_back(doc);
  }
  return docs;
}

void write_dataset(const std::string& path, const std::vector<std::vector<int32_t>>& docs) {
  mp::TokenDatasetWriter writer(path, "tokenizer-hash");
  writer.add_source({"a.txt", "hash-a"});
  writer.add_source({"b.txt", "hash-b"});
  for (const auto& doc : docs) writer.add_document(doc);
  writer.commit();
}

std::string bad_input_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    const std::string message = e.what();
    CHECK(message.find('\n') == std::string::npos);
    return message;
  }
  FAIL("no error was raised");
  return "";
}

}  // namespace

TEST_CASE("token dataset round trip with documents and provenance", "[distill][token_dataset]") {
  mp::test::ScratchDir dir;
  // Enough tokens (> 16 chunks) that the writer flushes more than once.
  const auto docs = make_documents(1500, 800);
  write_dataset(dir.path("t.h5"), docs);

  mp::TokenDataset ds(dir.path("t.h5"));
  REQUIRE(ds.n_documents() == 1500);
  int64_t total = 0;
  mp::Sha256 hash;
  for (const auto& doc : docs) {
    total += static_cast<int64_t>(doc.size());
    hash.update(doc.data(), doc.size() * sizeof(int32_t));
  }
  CHECK(total > 16 * 32768);
  CHECK(ds.n_tokens() == total);
  CHECK(ds.document(0) == docs[0]);
  CHECK(ds.document(777) == docs[777]);
  CHECK(ds.document(1499) == docs[1499]);
  const auto middle = ds.read(300000, 5);
  CHECK(middle == std::vector<int32_t>{300000, 300001, 300002, 300003, 300004});
  CHECK(ds.tokenizer_sha256() == "tokenizer-hash");
  CHECK(ds.tokens_sha256() == hash.hex_digest());
  REQUIRE(ds.sources().size() == 2);
  CHECK(ds.sources()[1].file == "b.txt");
  CHECK(ds.sources()[1].sha256 == "hash-b");
}

TEST_CASE("random windows are reproducible from the seed and lie inside", "[distill][token_dataset]") {
  mp::test::ScratchDir dir;
  write_dataset(dir.path("t.h5"), make_documents(40, 100));
  mp::TokenDataset ds(dir.path("t.h5"));
  mp::RandomWindows a(ds, 16, 42), b(ds, 16, 42), c(ds, 16, 43);
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    const auto wa = a.next(), wb = b.next(), wc = c.next();
    CHECK(wa.start == wb.start);
    differs = differs || wa.start != wc.start;
    REQUIRE(wa.start >= 0);
    REQUIRE(wa.start + 16 <= ds.n_tokens());
    // Ids equal positions in these documents.
    CHECK(wa.tokens.front() == wa.start);
    CHECK(wa.tokens.back() == wa.start + 15);
  }
  CHECK(differs);
  CHECK_THROWS_AS(mp::RandomWindows(ds, ds.n_tokens() + 1, 1), mp::Error);
}

TEST_CASE("sequential windows cover the dataset once, in order", "[distill][token_dataset]") {
  mp::test::ScratchDir dir;
  write_dataset(dir.path("t.h5"), make_documents(30, 90));
  mp::TokenDataset ds(dir.path("t.h5"));
  mp::SequentialWindows windows(ds, 64);
  mp::TokenWindow w;
  int64_t expected_start = 0;
  while (windows.next(w)) {
    CHECK(w.start == expected_start);
    CHECK(static_cast<int64_t>(w.tokens.size()) == std::min<int64_t>(64, ds.n_tokens() - w.start));
    CHECK(w.tokens.front() == w.start);
    expected_start += static_cast<int64_t>(w.tokens.size());
  }
  CHECK(expected_start == ds.n_tokens());
}

TEST_CASE("an uncommitted token dataset leaves nothing behind", "[distill][token_dataset]") {
  mp::test::ScratchDir dir;
  {
    mp::TokenDatasetWriter writer(dir.path("t.h5"), "h");
    writer.add_document({1, 2, 3});
  }
  CHECK(std::filesystem::is_empty(dir.root));
}

TEST_CASE("token dataset bad input is reported in one line", "[distill][token_dataset]") {
  mp::test::ScratchDir dir;
  const std::string missing = dir.path("missing.h5");
  CHECK(bad_input_message([&] { mp::TokenDataset ds(missing); }) == missing + ": no such file");

  const std::string text = dir.path("text.h5");
  std::ofstream(text) << "not hdf5";
  CHECK(bad_input_message([&] { mp::TokenDataset ds(text); }) == text + ": not an HDF5 file");

  const std::string empty = dir.path("empty.h5");
  {
    mp::h5::File f = mp::h5::File::create(empty);
    mp::h5::Dataset::create(f, "other", H5T_STD_I32LE, 0, 16);
  }
  CHECK(bad_input_message([&] { mp::TokenDataset ds(empty); }) == empty + ": no dataset 'tokens'");

  const std::string floats = dir.path("floats.h5");
  {
    mp::h5::File f = mp::h5::File::create(floats);
    mp::h5::Dataset::create(f, "tokens", H5T_IEEE_F32LE, 0, 16);
  }
  CHECK(bad_input_message([&] { mp::TokenDataset ds(floats); }) ==
        floats + ": dataset 'tokens' has type float32, expected int32");
}

TEST_CASE("an empty token dataset and an output in a missing directory", "[distill][token_dataset]") {
  mp::test::ScratchDir dir;
  {
    mp::TokenDatasetWriter writer(dir.path("empty.h5"), "h");
    writer.commit();
  }
  mp::TokenDataset ds(dir.path("empty.h5"));
  CHECK(ds.n_tokens() == 0);
  CHECK(ds.n_documents() == 0);
  CHECK(ds.sources().empty());
  const std::string nowhere = dir.path("no/such/dir/t.h5");
  CHECK(bad_input_message([&] { mp::TokenDatasetWriter w(nowhere, "h"); }) ==
        nowhere + ": no such directory");
}
