// Training windows: each epoch visits every aligned window once, in an order fixed by the seed.
#include <catch2/catch.hpp>

#include <set>

#include "distill/training_windows.h"
#include "tests/test_support.h"

TEST_CASE("training windows: shuffled epochs, aligned windows, shifted labels", "[distill][train]") {
  mp::test::ScratchDir dir;
  {
    mp::TokenDatasetWriter writer(dir.path("t.h5"), "tok");
    std::vector<int32_t> doc(1000);
    for (size_t i = 0; i < doc.size(); ++i) doc[i] = static_cast<int32_t>(i);
    writer.add_document(doc);
    writer.commit();
  }
  const mp::TokenDataset ds(dir.path("t.h5"));
  mp::TrainingWindows a(ds, 64, 5), b(ds, 64, 5), other(ds, 64, 6);
  REQUIRE(a.windows() == 15);  // 999 / 64: the last window needs one more token for its labels
  std::set<int64_t> epoch0, epoch1;
  std::vector<int64_t> order_a, order_other;
  for (int64_t n = 0; n < 15; ++n) {
    epoch0.insert(a.window_of_sample(n));
    order_a.push_back(b.window_of_sample(n));
    order_other.push_back(other.window_of_sample(n));
  }
  for (int64_t n = 15; n < 30; ++n) epoch1.insert(a.window_of_sample(n));
  CHECK(epoch0.size() == 15);
  CHECK(epoch1.size() == 15);
  CHECK(order_a != order_other);
  for (int64_t n = 0; n < 15; ++n) CHECK(a.window_of_sample(n) == order_a[static_cast<size_t>(n)]);

  const mp::TrainingBatch batch = a.batch(3, 2);
  REQUIRE(batch.tokens.sizes() == at::IntArrayRef({2, 64}));
  for (int r = 0; r < 2; ++r) {
    const int64_t start = a.window_of_sample(3 + r) * 64;
    CHECK(batch.window_starts[static_cast<size_t>(r)] == start);
    CHECK(batch.tokens[r][0].item<int64_t>() == start);  // token i is i in this dataset
    CHECK(batch.labels[r * 64 + 63].item<int64_t>() == start + 64);
  }
}
