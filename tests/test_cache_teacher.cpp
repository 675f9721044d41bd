// The offline teacher pass with a stand-in teacher: rows per window, and resuming after a crash.
#include <catch2/catch.hpp>

#include "distill/cache_teacher.h"
#include "tests/test_support.h"

namespace {

constexpr int64_t kVocab = 40;

// Deterministic logits that depend on each token and its position in the window, like a model's.
at::Tensor fake_teacher(const std::vector<int32_t>& window) {
  at::Tensor logits = at::empty({static_cast<int64_t>(window.size()), kVocab}, at::kFloat);
  for (size_t i = 0; i < window.size(); ++i)
    for (int64_t v = 0; v < kVocab; ++v)
      logits[static_cast<int64_t>(i)][v] =
          -0.3 * std::abs(static_cast<double>(v - (window[i] * 7 + static_cast<int64_t>(i)) % kVocab));
  return logits;
}

void write_tokens(const std::string& path) {
  mp::TokenDatasetWriter writer(path, "tok");
  for (int d = 0; d < 9; ++d) {
    std::vector<int32_t> doc(static_cast<size_t>(50 + 13 * d));
    for (size_t i = 0; i < doc.size(); ++i) doc[i] = static_cast<int32_t>((i * 31 + d) % kVocab);
    writer.add_document(doc);
  }
  writer.commit();
}

mp::TeacherCacheIdentity identity() { return {5, 64, "fake-teacher", "", mp::LogprobStorage::float32}; }

}  // namespace

TEST_CASE("cache_teacher stores each window's top-k", "[distill][teacher_cache]") {
  mp::test::ScratchDir dir;
  write_tokens(dir.path("tokens.h5"));
  const mp::TokenDataset ds(dir.path("tokens.h5"));
  REQUIRE(ds.n_tokens() % 64 != 0);  // the last window is short
  const auto summary = mp::cache_teacher(ds, dir.path("cache.h5"), identity(), fake_teacher);
  CHECK(summary.tokens == ds.n_tokens());
  CHECK(summary.resumed_tokens == 0);
  CHECK(summary.bytes_per_token() > 0);

  const mp::TeacherCacheReader cache(dir.path("cache.h5"));
  CHECK(cache.identity().dataset_sha256 == ds.tokens_sha256());
  for (int64_t start : {int64_t{0}, int64_t{128}, ds.n_tokens() / 64 * 64}) {
    const int64_t n = std::min<int64_t>(64, ds.n_tokens() - start);
    const mp::TeacherTopK expected = mp::teacher_topk(fake_teacher(ds.read(start, n)), 5);
    const mp::TeacherTopK got = cache.read(start, n);
    CHECK(got.indices.equal(expected.indices));
    CHECK(got.logprobs.equal(expected.logprobs));
    CHECK(got.tail_logmass.equal(expected.tail_logmass));
  }
}

TEST_CASE("cache_teacher resumes after a crash without recomputing", "[distill][teacher_cache]") {
  mp::test::ScratchDir dir;
  write_tokens(dir.path("tokens.h5"));
  const mp::TokenDataset ds(dir.path("tokens.h5"));
  mp::cache_teacher(ds, dir.path("once.h5"), identity(), fake_teacher);

  int calls = 0;
  auto crashing = [&](const std::vector<int32_t>& window) {
    if (++calls == 4) throw std::runtime_error("teacher crashed");
    return fake_teacher(window);
  };
  CHECK_THROWS(mp::cache_teacher(ds, dir.path("resumed.h5"), identity(), crashing));
  calls = 0;
  auto counting = [&](const std::vector<int32_t>& window) {
    ++calls;
    return fake_teacher(window);
  };
  const auto summary = mp::cache_teacher(ds, dir.path("resumed.h5"), identity(), counting);
  CHECK(summary.resumed_tokens == 3 * 64);
  const int64_t windows = (ds.n_tokens() + 63) / 64;
  CHECK(calls == windows - 3);

  const mp::TeacherCacheReader once(dir.path("once.h5")), resumed(dir.path("resumed.h5"));
  REQUIRE(resumed.n_tokens() == once.n_tokens());
  const mp::TeacherTopK a = once.read(0, once.n_tokens()), b = resumed.read(0, resumed.n_tokens());
  CHECK(a.indices.equal(b.indices));
  CHECK(a.logprobs.equal(b.logprobs));
  CHECK(a.tail_logmass.equal(b.tail_logmass));
}
