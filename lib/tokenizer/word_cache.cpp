#include "lib/tokenizer/word_cache.h"

#include <functional>

namespace mp {

WordCache::Shard& WordCache::shard_of(std::string_view word) const {
  // The map hashes the low bits; the shard takes high ones, so a shard's words spread over its buckets.
  return shards_[(std::hash<std::string_view>{}(word) >> 32) % kShards];
}

bool WordCache::append_cached(std::string_view word, std::vector<int32_t>& out) const {
  Shard& shard = shard_of(word);
  const std::lock_guard<std::mutex> lock(shard.mutex);
  const auto it = shard.ids.find(std::string(word));
  if (it == shard.ids.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::remember(std::string_view word, std::vector<int32_t> ids) const {
  Shard& shard = shard_of(word);
  const std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.ids.size() >= kWordsPerShard) shard.ids.clear();
  shard.ids.emplace(std::string(word), std::move(ids));
}

}  // namespace mp
