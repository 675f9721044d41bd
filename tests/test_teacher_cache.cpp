// Teacher top-k: the logits-to-top-k conversion against a slow reference; the cache's round trip,
// resume and identity checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "distill/teacher_cache.h"
#include "lib/base/error.h"
#include "tests/test_support.h"

namespace {

at::Tensor random_logits(int64_t rows, int64_t vocab, uint64_t seed) {
  at::manual_seed(seed);
  return at::randn({rows, vocab}, at::kFloat) * 4.0;
}

bool same(const mp::TeacherTopK& a, const mp::TeacherTopK& b) {
  return a.indices.equal(b.indices) && a.logprobs.equal(b.logprobs) &&
         a.tail_logmass.equal(b.tail_logmass);
}

mp::TeacherCacheIdentity identity(mp::LogprobStorage storage) {
  return {8, 64, "teacher-hash", "dataset-hash", storage};
}

}  // namespace

TEST_CASE("teacher_topk matches a sorted double-precision reference", "[distill][teacher_cache]") {
  at::Tensor logits = random_logits(5, 40, 1);
  // A row whose tail is about e^-100 of the total: 1 - sum(p) would round to 0 in float32.
  logits[4].fill_(0.0);
  logits[4][7] = 100.0;
  logits[4][9] = 99.0;
  const int64_t k = 6;
  const mp::TeacherTopK top = mp::teacher_topk(logits, k);
  REQUIRE(top.k() == k);
  for (int64_t r = 0; r < 5; ++r) {
    std::vector<double> row(40);
    for (int64_t v = 0; v < 40; ++v) row[static_cast<size_t>(v)] = logits[r][v].item<double>();
    std::vector<size_t> order(40);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return row[a] > row[b]; });
    const double max = row[order[0]];
    double total = 0, tail = 0;
    for (size_t i = 0; i < 40; ++i) total += std::exp(row[order[i]] - max);
    for (size_t i = static_cast<size_t>(k); i < 40; ++i) tail += std::exp(row[order[i]] - max);
    for (int64_t j = 0; j < k; ++j) {
      const size_t token = order[static_cast<size_t>(j)];
      // Ties (row 4 has 38 zeros) may come out in any order; the values must still agree.
      CHECK(row[static_cast<size_t>(top.indices[r][j].item<int64_t>())] == row[token]);
      CHECK(top.logprobs[r][j].item<double>() ==
            Approx(row[token] - max - std::log(total)).margin(1e-5));
    }
    CHECK(top.tail_logmass[r].item<double>() ==
          Approx(std::log(tail) - std::log(total)).epsilon(1e-6).margin(1e-5));
  }
  CHECK(top.tail_logmass[4].item<double>() < -90);
}

TEST_CASE("teacher cache round trip in float32 and float16", "[distill][teacher_cache]") {
  mp::test::ScratchDir dir;
  const mp::TeacherTopK rows = mp::teacher_topk(random_logits(300, 50, 2), 8);
  for (auto storage : {mp::LogprobStorage::float32, mp::LogprobStorage::float16}) {
    const std::string path = dir.path(storage == mp::LogprobStorage::float16 ? "h.h5" : "f.h5");
    mp::TeacherCacheWriter writer(path, identity(storage));
    writer.append(mp::slice_rows(rows, 0, 100));
    writer.append(mp::slice_rows(rows, 100, 200));
    CHECK_FALSE(std::filesystem::exists(path));
    writer.commit();

    mp::TeacherCacheReader reader(path);
    REQUIRE(reader.n_tokens() == 300);
    CHECK(reader.identity().k == 8);
    CHECK(reader.identity().context == 64);
    CHECK(reader.identity().teacher_sha256 == "teacher-hash");
    CHECK(reader.identity().dataset_sha256 == "dataset-hash");
    CHECK(reader.identity().storage == storage);
    const mp::TeacherTopK back = reader.read(50, 200);
    const mp::TeacherTopK expected = mp::slice_rows(rows, 50, 200);
    CHECK(back.indices.equal(expected.indices));
    CHECK(back.tail_logmass.equal(expected.tail_logmass));
    const at::Tensor logprobs = storage == mp::LogprobStorage::float16
                                    ? expected.logprobs.to(at::kHalf).to(at::kFloat)
                                    : expected.logprobs;
    CHECK(back.logprobs.equal(logprobs));
  }
}

TEST_CASE("an interrupted teacher cache resumes to the same file", "[distill][teacher_cache]") {
  mp::test::ScratchDir dir;
  const mp::TeacherTopK rows = mp::teacher_topk(random_logits(1000, 64, 3), 8);
  const auto id = identity(mp::LogprobStorage::float16);
  {
    mp::TeacherCacheWriter once(dir.path("once.h5"), id);
    once.append(rows);
    once.commit();
  }
  {
    mp::TeacherCacheWriter first_run(dir.path("resumed.h5"), id);
    first_run.append(mp::slice_rows(rows, 0, 256));
    first_run.append(mp::slice_rows(rows, 256, 256));
  }  // killed before commit: the partial file stays for the next run
  CHECK_FALSE(std::filesystem::exists(dir.path("resumed.h5")));
  {
    mp::TeacherCacheWriter second_run(dir.path("resumed.h5"), id);
    REQUIRE(second_run.tokens_written() == 512);
    second_run.append(mp::slice_rows(rows, 512, 488));
    second_run.commit();
  }
  const mp::TeacherCacheReader once(dir.path("once.h5")), resumed(dir.path("resumed.h5"));
  REQUIRE(resumed.n_tokens() == 1000);
  CHECK(same(once.read(0, 1000), resumed.read(0, 1000)));
  // Only the two caches (and their manifests) remain: the partial file was renamed into place.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.root)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"once.h5", "once.h5.manifest.json", "resumed.h5", "resumed.h5.manifest.json"});
}

TEST_CASE("a partial cache of another teacher is not resumed", "[distill][teacher_cache]") {
  mp::test::ScratchDir dir;
  {
    mp::TeacherCacheWriter run(dir.path("c.h5"), identity(mp::LogprobStorage::float16));
    run.append(mp::teacher_topk(random_logits(10, 20, 4), 8));
  }
  auto other = identity(mp::LogprobStorage::float16);
  other.teacher_sha256 = "another-teacher";
  try {
    mp::TeacherCacheWriter run(dir.path("c.h5"), other);
    FAIL("resumed a partial cache of another teacher");
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    CHECK(std::string(e.what()).find("another teacher") != std::string::npos);
  }
}

TEST_CASE("teacher cache bytes per token", "[distill][teacher_cache]") {
  CHECK(mp::teacher_cache_bytes_per_token(16, mp::LogprobStorage::float16) == 16 * 6 + 4);
  CHECK(mp::teacher_cache_bytes_per_token(64, mp::LogprobStorage::float32) == 64 * 8 + 4);
}
