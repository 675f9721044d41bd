// The training examples: windows of `seq` tokens starting at multiples of `seq` (the windows the
// teacher cache was computed on, so cached rows line up), each with the `seq` following tokens as
// labels, visited in a seeded shuffled order, epoch after epoch.
//
// Sample n of the run is a pure function of (seed, n): a run resumes exactly from its sample
// counter, and data-parallel ranks take disjoint, deterministic slices of the same sequence.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "distill/token_dataset.h"

namespace mp {

struct TrainingBatch {
  at::Tensor tokens;                  // int64 [B, seq]
  at::Tensor labels;                  // int64 [B * seq], the token after each input token
  std::vector<int64_t> window_starts;  // token offset of each row in the dataset
};

class TrainingWindows {
 public:
  // Fails (naming the dataset) when it holds less than one window plus its last label.
  TrainingWindows(const TokenDataset& dataset, int64_t seq, uint64_t seed);
  int64_t windows() const { return windows_; }
  int64_t seq() const { return seq_; }
  // The window index of sample n: epoch n / windows() is a fresh Fisher-Yates permutation drawn
  // from mt19937_64 seeded with (seed, epoch).
  int64_t window_of_sample(int64_t n);
  // Samples first .. first + count - 1.
  TrainingBatch batch(int64_t first, int64_t count);
  // Windows first .. first + count - 1 in dataset order (for held-out evaluation).
  TrainingBatch in_order(int64_t first, int64_t count) const;

 private:
  TrainingBatch assemble(const std::vector<int64_t>& windows) const;
  const TokenDataset& dataset_;
  int64_t seq_, windows_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;
};

}  // namespace mp
