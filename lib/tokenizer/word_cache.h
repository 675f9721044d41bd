// Words a BPE model has already encoded, shared by every thread that encodes with the model and
// freed with it. A thread-local cache would outlive its model (threads live longer than tokenizers),
// and LeakSanitizer and libFuzzer would see every model's words as possible leaks. Sharded, so
// threads encoding at once rarely wait on the same lock; bounded, so a corpus of rare words cannot
// grow it without end (a full shard starts over).
#pragma once
#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mp {

class WordCache {
 public:
  // Appends the word's ids to `out` and returns true if the word is cached.
  bool append_cached(std::string_view word, std::vector<int32_t>& out) const;
  void remember(std::string_view word, std::vector<int32_t> ids) const;

 private:
  static constexpr size_t kShards = 64;
  static constexpr size_t kWordsPerShard = 4096;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>> ids;
  };
  Shard& shard_of(std::string_view word) const;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace mp
