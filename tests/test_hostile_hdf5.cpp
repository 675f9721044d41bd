// HDF5 token datasets as a mutation run broke them, fed to distill-train: exit code 3, one line
// naming the file and the dataset or attribute, and no OUT directory left behind.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <functional>
#include <fstream>

#include "distill/teacher_cache.h"
#include "formats/hdf5_file.h"
#include "formats/hdf5_isolated_reader.h"
#include "lib/base/version.h"
#include "lib/base/error.h"
#include "lib/base/sanitizers.h"
#include "lib/base/sha256.h"
#include "tests/hostile_inputs.h"

namespace fs = std::filesystem;
using mp::test::quoted;

namespace {

struct TokenFile {
  std::vector<int32_t> tokens;
  std::vector<int64_t> offsets;  // doc_offsets
  std::string tokens_sha256;     // empty: the true one
  int64_t declared_rows = 0;     // > 0: `tokens` is resized to this many rows, never written
};

// A token dataset as tokenize writes one (datasets, attributes), with whatever content `f` holds.
std::string write_token_file(const std::string& path, const TokenFile& f) {
  mp::h5::File file = mp::h5::File::create(path);
  mp::h5::Dataset tokens = mp::h5::Dataset::create(file, "tokens", H5T_STD_I32LE, 0, 1024);
  tokens.append(H5T_NATIVE_INT32, f.tokens.data(), static_cast<int64_t>(f.tokens.size()));
  if (f.declared_rows > 0) tokens.resize(f.declared_rows);
  mp::h5::Dataset offsets = mp::h5::Dataset::create(file, "doc_offsets", H5T_STD_I64LE, 0, 1024);
  offsets.append(H5T_NATIVE_INT64, f.offsets.data(), static_cast<int64_t>(f.offsets.size()));
  mp::Sha256 hash;
  hash.update(f.tokens.data(), f.tokens.size() * sizeof(int32_t));
  file.set_attribute("tokenizer_sha256", mp::sha256_file(mp::test::shared_path("models/stories260K/tokenizer.model")));
  file.set_attribute("tokens_sha256", f.tokens_sha256.empty() ? hash.hex_digest() : f.tokens_sha256);
  file.set_attribute("source_files", std::vector<std::string>{"generated"});
  file.set_attribute("source_sha256", std::vector<std::string>{"0"});
  tokens.close();
  offsets.close();
  file.close();
  return path;
}

// 2,000 valid tokens of stories260K's vocabulary in two documents.
TokenFile valid_tokens() {
  TokenFile f;
  for (int i = 0; i < 2000; ++i) f.tokens.push_back(3 + (i * 37) % 500);
  f.offsets = {0, 1200, 2000};
  return f;
}

// Replaces `tokens` by a dataset of the same rows whose storage `storage` chooses on its creation
// properties; with `write`, the tokens are written through it.
void replace_tokens(const std::string& path, const std::function<void(hid_t properties)>& storage, bool write) {
  const std::vector<int32_t> tokens = valid_tokens().tokens;
  mp::h5::File file = mp::h5::File::open_write(path);
  REQUIRE(H5Ldelete(file.id(), "tokens", H5P_DEFAULT) >= 0);
  const hsize_t rows = tokens.size();
  mp::h5::Id space(H5Screate_simple(1, &rows, nullptr), H5Sclose);
  mp::h5::Id properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  storage(properties.get());
  mp::h5::Id dataset(H5Dcreate2(file.id(), "tokens", H5T_STD_I32LE, space.get(), H5P_DEFAULT, properties.get(),
                                H5P_DEFAULT),
                     H5Dclose);
  REQUIRE(dataset.get() >= 0);
  if (write) REQUIRE(H5Dwrite(dataset.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, tokens.data()) >= 0);
}

// A filter only this test process has (ids 256-511 are HDF5's range for testing): it passes data
// through, and modelpress's reader process has never heard of it.
size_t pass_through(unsigned, size_t, const unsigned[], size_t bytes, size_t*, void**) { return bytes; }
constexpr H5Z_filter_t kTestFilter = 305;

mp::test::CommandResult train_on(const std::string& data, const std::string& out, const std::string& extra = "") {
  return mp::test::run_modelpress("distill-train -q --student " + quoted(mp::test::shared_path("models/stories260K")) +
                                  " --data " + quoted(data) + " --out " + quoted(out) +
                                  " --steps 2 --batch 1 --seq 16 --threads 1 " + extra);
}

}  // namespace

TEST_CASE("hostile hdf5: broken token datasets are refused before training", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string out = dir.path("out");
  {
    const auto r = train_on(write_token_file(dir.path("valid.h5"), valid_tokens()), out);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);  // the generator itself writes a file distill-train accepts
    fs::remove_all(out);
  }
  struct Case {
    const char* what;
    std::function<void(TokenFile&)> edit;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"id past the vocabulary", [](TokenFile& f) { f.tokens[700] = 512; }, "tokens"},
      {"negative id", [](TokenFile& f) { f.tokens[5] = -3; }, "tokens"},
      {"decreasing doc_offsets", [](TokenFile& f) { f.offsets = {0, 1500, 900, 2000}; }, "doc_offsets"},
      {"negative doc_offsets", [](TokenFile& f) { f.offsets = {0, -10, 2000}; }, "doc_offsets"},
      {"tokens_sha256 of other tokens", [](TokenFile& f) { f.tokens_sha256 = std::string(64, 'a'); }, "tokens_sha256"},
      {"2^40 rows never written", [](TokenFile& f) { f.declared_rows = int64_t{1} << 40; }, "tokens"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    TokenFile f = valid_tokens();
    c.edit(f);
    const std::string data = write_token_file(dir.path("broken.h5"), f);
    const std::string args = "distill-train -q --student " + quoted(mp::test::shared_path("models/stories260K")) +
                             " --data " + quoted(data) + " --out " + quoted(out) +
                             " --steps 2 --batch 1 --seq 16 --threads 1";
    mp::test::require_bad_input(mp::test::run_modelpress_after(mp::test::memory_limit_4gb(), args), "broken.h5",
                                c.field);
    mp::test::require_no_output(dir.path(), "out");
  }
}

TEST_CASE("hostile hdf5: external links are refused", "[hostile]") {
  mp::test::ScratchDir dir;
  write_token_file(dir.path("elsewhere.h5"), valid_tokens());
  const std::string data = write_token_file(dir.path("linked.h5"), valid_tokens());
  {
    // `tokens` replaced by a link into another file.
    mp::h5::File file = mp::h5::File::open_write(data);
    REQUIRE(H5Ldelete(file.id(), "tokens", H5P_DEFAULT) >= 0);
    REQUIRE(H5Lcreate_external(dir.path("elsewhere.h5").c_str(), "tokens", file.id(), "tokens", H5P_DEFAULT,
                               H5P_DEFAULT) >= 0);
  }
  mp::test::require_bad_input(train_on(data, dir.path("out")), "linked.h5", "external link");
  mp::test::require_no_output(dir.path(), "out");
}

TEST_CASE("hostile hdf5: virtual datasets, external raw storage and filters this build lacks are refused",
          "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string elsewhere = write_token_file(dir.path("elsewhere.h5"), valid_tokens());
  const auto rows = static_cast<hsize_t>(valid_tokens().tokens.size());
  SECTION("a virtual dataset mapping another file") {
    const std::string data = write_token_file(dir.path("virtual.h5"), valid_tokens());
    replace_tokens(data, [&](hid_t properties) {
      mp::h5::Id all(H5Screate_simple(1, &rows, nullptr), H5Sclose);
      REQUIRE(H5Pset_virtual(properties, all.get(), elsewhere.c_str(), "tokens", all.get()) >= 0);
    }, false);
    mp::test::require_bad_input(train_on(data, dir.path("out")), "virtual.h5", "is a virtual dataset");
  }
  SECTION("raw data kept in an external file") {
    const std::string data = write_token_file(dir.path("external.h5"), valid_tokens());
    const std::string raw = dir.path("tokens.raw");
    replace_tokens(data, [&](hid_t properties) {
      REQUIRE(H5Pset_external(properties, raw.c_str(), 0, rows * sizeof(int32_t)) >= 0);
    }, true);
    REQUIRE(fs::file_size(raw) == rows * sizeof(int32_t));
    mp::test::require_bad_input(train_on(data, dir.path("out")), "external.h5", "keeps its data in external files");
  }
  SECTION("chunks compressed with a filter modelpress does not have") {
    const H5Z_class2_t filter = {H5Z_CLASS_T_VERS, kTestFilter, 1, 1, "test-only filter", nullptr, nullptr, pass_through};
    REQUIRE(H5Zregister(&filter) >= 0);
    const std::string data = write_token_file(dir.path("filtered.h5"), valid_tokens());
    replace_tokens(data, [&](hid_t properties) {
      const hsize_t chunk = 256;
      REQUIRE(H5Pset_chunk(properties, 1, &chunk) >= 0);
      REQUIRE(H5Pset_filter(properties, kTestFilter, H5Z_FLAG_MANDATORY, 0, nullptr) >= 0);
    }, true);
    mp::test::require_bad_input(train_on(data, dir.path("out")), "filtered.h5", "HDF5 filter 305 (test-only filter)");
  }
  mp::test::require_no_output(dir.path(), "out");
}

TEST_CASE("hostile hdf5: held-out data too short fails before OUT exists", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string data = write_token_file(dir.path("train.h5"), valid_tokens());
  TokenFile tiny;
  tiny.tokens = {5, 6, 7};
  tiny.offsets = {0, 3};
  const std::string eval = write_token_file(dir.path("eval.h5"), tiny);
  mp::test::require_bad_input(train_on(data, dir.path("out"), "--eval-data " + quoted(eval)), "eval.h5", "tokens");
  mp::test::require_no_output(dir.path(), "out");
  // From text: OUT/<name>.tokens.h5 is written before training would start; a failure removes it.
  std::ofstream(dir.path("short.txt")) << "Once.";
  mp::test::require_bad_input(train_on(data, dir.path("out"), "--eval-data " + quoted(dir.path("short.txt"))),
                              "short.tokens.h5", "tokens");
  mp::test::require_no_output(dir.path(), "out");
}

// tests/fuzz/known/libhdf5-use-after-free.h5 makes Debian's libhdf5 1.10 read an object-header
// message its cache has freed (found by fuzz_hdf5_datasets under ASan; without ASan it passes
// silently, which is why no in-process check could catch it). It is only ever opened by the
// reader process now: as training data and as a teacher cache, one line and exit 3.
TEST_CASE("hostile hdf5: the libhdf5 use-after-free reproducer is read in the reader process only", "[hostile]") {
#ifdef MODELPRESS_ASAN
  // In the sanitizer build the reader process dies of ASan's report (exit status 1), the case the
  // isolation exists for; the user still sees one line.
  const std::string problem = "the HDF5 library failed";
#else
  const std::string problem = "attribute";
#endif
  mp::test::ScratchDir dir;
  const std::string known = std::string(mp::source_dir()) + "/tests/fuzz/known/libhdf5-use-after-free.h5";
  mp::test::require_bad_input(train_on(known, dir.path("out")), "libhdf5-use-after-free.h5", problem);
  mp::test::require_no_output(dir.path(), "out");
  const std::string data = write_token_file(dir.path("valid.h5"), valid_tokens());
  mp::test::require_bad_input(train_on(data, dir.path("out"), "--cache-teacher " + quoted(known)),
                              "libhdf5-use-after-free.h5", problem);
  mp::test::require_no_output(dir.path(), "out");
  // In this process too: bad input, and this process's libhdf5 never saw the file (in the
  // sanitizer build it would have reported the use-after-free here).
  try {
    const mp::TeacherCacheReader cache(known);
    FAIL("the reproducer was accepted as a teacher cache");
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    CHECK_THAT(e.what(), Catch::Contains("libhdf5-use-after-free.h5"));
  }
}

// What a crash inside libhdf5 looks like from here: the reader dies by a signal mid-way.
TEST_CASE("hostile hdf5: a reader process killed by a signal is one line naming the file", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string data = write_token_file(dir.path("tokens.h5"), valid_tokens());
  mp::h5::IsolatedReader reader(data);
  const mp::h5::RemoteDataset tokens = reader.open_dataset("tokens", mp::h5::Element::int32);
  REQUIRE(tokens.rows == 2000);
  std::vector<int32_t> first(4);
  reader.read(tokens, 0, 4, first.data());
  CHECK((first == std::vector<int32_t>{3, 40, 77, 114}));  // valid_tokens(): 3 + 37 i
  REQUIRE(::kill(reader.child(), SIGSEGV) == 0);
  for (int attempt = 0; attempt < 2; ++attempt) {  // and it stays failed
    try {
      reader.read(tokens, 0, 4, first.data());
      FAIL("a dead reader answered");
    } catch (const mp::Error& e) {
      CHECK(e.code() == mp::ExitCode::bad_input);
      const std::string message = e.what();
      CHECK_THAT(message, Catch::StartsWith(data + ": "));
      CHECK_THAT(message, Catch::Contains("signal 11"));
      CHECK(message.find('\n') == std::string::npos);
    }
  }
}

// tests/fuzz/known/libhdf5-chunk-division-by-zero.h5: a teacher cache on which Debian's libhdf5
// divides by zero while opening a dataset (SIGFPE in H5D__chunk_set_info; found by
// fuzz_hdf5_datasets running libhdf5 on a thread, 2026-12-03). The reader process dies of it.
TEST_CASE("hostile hdf5: a file that crashes libhdf5 is one line naming the file", "[hostile]") {
#ifdef MODELPRESS_ASAN
  const std::string problem = "the HDF5 library failed";  // ASan may report the signal itself
#else
  const std::string problem = "the HDF5 library failed while reading this file (signal 8";
#endif
  mp::test::ScratchDir dir;
  const std::string known = std::string(mp::source_dir()) + "/tests/fuzz/known/libhdf5-chunk-division-by-zero.h5";
  const std::string data = write_token_file(dir.path("valid.h5"), valid_tokens());
  mp::test::require_bad_input(train_on(data, dir.path("out"), "--cache-teacher " + quoted(known)),
                              "libhdf5-chunk-division-by-zero.h5", problem);
  mp::test::require_no_output(dir.path(), "out");
}

// tests/fuzz/known/libhdf5-unbounded-reallocation.h5: 393 bytes on which Debian's libhdf5 reallocates
// while opening the file until the process passes 2 GB, for 8 s, before it fails (found by
// fuzz_hdf5_datasets, 2026-12-03). The reader process may grow by 1 GiB plus what the file's data
// can decompress to (1,100 times 393 bytes); past that libhdf5's allocations fail and the file is
// refused.
TEST_CASE("hostile hdf5: a file that makes libhdf5 allocate without end is refused within the reader's bound",
          "[hostile]") {
  const std::string known = std::string(mp::source_dir()) + "/tests/fuzz/known/libhdf5-unbounded-reallocation.h5";
  rusage self{};
  REQUIRE(::getrusage(RUSAGE_SELF, &self) == 0);
  try {
    const mp::h5::IsolatedReader reader(known);
    FAIL("the file was opened");
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    CHECK_THAT(e.what(), Catch::StartsWith(known + ": "));
  }
  // The reader is a child of this process (waited for): the largest child's peak, in KiB. It starts
  // with this process's pages; a sanitizer's shadow of what it allocates comes on top of the bound.
  rusage children{};
  REQUIRE(::getrusage(RUSAGE_CHILDREN, &children) == 0);
  CHECK(children.ru_maxrss - self.ru_maxrss < 1536 * 1024);
}

// fuzz_hdf5_datasets (2026-12-03): a 16 KB teacher cache declaring chunks of 1 GB, which
// libhdf5 allocated and filled on every read (4.5 s and 1.5 GB per input under the fuzzer).
TEST_CASE("hostile hdf5: chunks larger than the file could hold are refused before a read", "[hostile]") {
  const std::string cache =
      std::string(mp::source_dir()) + "/tests/fuzz/regressions/fuzz_hdf5_datasets/hdf5-huge-chunks.h5";
  try {
    const mp::TeacherCacheReader reader(cache);
    (void)reader.read(0, std::min<int64_t>(reader.n_tokens(), 64));
    FAIL("the teacher cache was read");
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    CHECK_THAT(e.what(), Catch::StartsWith(cache + ": dataset '"));
    CHECK_THAT(e.what(), Catch::Contains("is stored in chunks of"));
  }
}

// fuzz_hdf5_datasets (2026-12-01): a teacher cache whose 'indices' header libhdf5 cannot decode
// ended in "HDF5 cannot open it", exit 1; it is bad input.
TEST_CASE("hostile hdf5: a dataset header libhdf5 cannot decode is bad input", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string cache =
      std::string(mp::source_dir()) + "/tests/fuzz/regressions/fuzz_hdf5_datasets/hdf5-dataset-header-undecodable.h5";
  const std::string data = write_token_file(dir.path("valid.h5"), valid_tokens());
  mp::test::require_bad_input(train_on(data, dir.path("out"), "--cache-teacher " + quoted(cache)),
                              "hdf5-dataset-header-undecodable.h5", "dataset 'indices'");
  mp::test::require_no_output(dir.path(), "out");
}

TEST_CASE("hostile hdf5: an attribute libhdf5 cannot read is bad input", "[hostile]") {
  // fuzz_hdf5_datasets (2026-12-03): a teacher cache whose 'temperature' attribute libhdf5 finds but
  // cannot read ended in "HDF5 cannot read an attribute", exit 1.
  mp::test::ScratchDir dir;
  const std::string cache =
      std::string(mp::source_dir()) + "/tests/fuzz/regressions/fuzz_hdf5_datasets/hdf5-attribute-unreadable.h5";
  const std::string data = write_token_file(dir.path("valid.h5"), valid_tokens());
  mp::test::require_bad_input(train_on(data, dir.path("out"), "--cache-teacher " + quoted(cache)),
                              "hdf5-attribute-unreadable.h5", "attribute 'temperature' cannot be read");
  mp::test::require_no_output(dir.path(), "out");
}
