#include "distill/training_windows.h"

#include <numeric>
#include <random>

#include "lib/base/error.h"

namespace mp {

TrainingWindows::TrainingWindows(const TokenDataset& dataset, int64_t seq, uint64_t seed)
    : dataset_(dataset), seq_(seq), windows_(seq > 0 ? (dataset.n_tokens() - 1) / seq : 0), seed_(seed) {
  if (seq <= 0) fail_input("--seq", "must be positive");
  if (windows_ < 1)
    fail_input(dataset.path(), "holds " + std::to_string(dataset.n_tokens()) + " tokens, fewer than one window of " +
                                   std::to_string(seq) + " plus a label");
}

int64_t TrainingWindows::window_of_sample(int64_t n) {
  const int64_t epoch = n / windows_;
  if (epoch != epoch_) {
    order_.resize(static_cast<size_t>(windows_));
    std::iota(order_.begin(), order_.end(), int64_t{0});
    std::seed_seq seeds{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32),
                        static_cast<uint32_t>(epoch), static_cast<uint32_t>(epoch >> 32)};
    std::mt19937_64 rng(seeds);
    // Fisher-Yates with plain modulo, not std::shuffle, whose algorithm differs between libraries.
    for (int64_t i = windows_ - 1; i > 0; --i)
      std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(rng() % static_cast<uint64_t>(i + 1))]);
    epoch_ = epoch;
  }
  return order_[static_cast<size_t>(n % windows_)];
}

TrainingBatch TrainingWindows::batch(int64_t first, int64_t count) {
  std::vector<int64_t> windows;
  for (int64_t n = first; n < first + count; ++n) windows.push_back(window_of_sample(n));
  return assemble(windows);
}

TrainingBatch TrainingWindows::in_order(int64_t first, int64_t count) const {
  std::vector<int64_t> windows;
  for (int64_t w = first; w < std::min(first + count, windows_); ++w) windows.push_back(w);
  return assemble(windows);
}

TrainingBatch TrainingWindows::assemble(const std::vector<int64_t>& windows) const {
  const int64_t b = static_cast<int64_t>(windows.size());
  TrainingBatch out;
  out.tokens = at::empty({b, seq_}, at::kLong);
  out.labels = at::empty({b * seq_}, at::kLong);
  auto tokens = out.tokens.accessor<int64_t, 2>();
  auto labels = out.labels.accessor<int64_t, 1>();
  for (int64_t r = 0; r < b; ++r) {
    const int64_t start = windows[static_cast<size_t>(r)] * seq_;
    const std::vector<int32_t> span = dataset_.read(start, seq_ + 1);
    for (int64_t t = 0; t < seq_; ++t) {
      tokens[r][t] = span[static_cast<size_t>(t)];
      labels[r * seq_ + t] = span[static_cast<size_t>(t + 1)];
    }
    out.window_starts.push_back(start);
  }
  return out;
}

}  // namespace mp
