// The BPE word cache (lib/tokenizer/word_cache.h): what it remembers comes back exactly, threads
// sharing it see consistent words, and it stays bounded however many distinct words go through it.
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "lib/tokenizer/word_cache.h"

namespace {

// Made-up ids that differ from word to word (and in length), so a mix-up shows.
std::vector<int32_t> ids_of(int word) {
  std::vector<int32_t> ids(1 + word % 5);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = word * 7 + static_cast<int32_t>(i);
  return ids;
}

std::string word_name(int word) { return "w" + std::to_string(word); }

}  // namespace

TEST_CASE("word cache: a remembered word is appended exactly, an unknown one is not", "[tokenizer]") {
  const mp::WordCache cache;
  std::vector<int32_t> out = {42};
  CHECK_FALSE(cache.append_cached("hello", out));
  CHECK(out == std::vector<int32_t>{42});
  cache.remember("hello", {1, 2, 3});
  cache.remember("", {9});
  CHECK(cache.append_cached("hello", out));
  CHECK(cache.append_cached("", out));
  CHECK(out == std::vector<int32_t>{42, 1, 2, 3, 9});
  CHECK_FALSE(cache.append_cached("hell", out));
}

TEST_CASE("word cache: threads remembering and reading the same words see each word's own ids", "[tokenizer]") {
  const mp::WordCache cache;
  constexpr int kWords = 3000;
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (int w = 0; w < kWords; ++w) {
          const int word = (w * (t + 1) + round) % kWords;
          std::vector<int32_t> out;
          if (cache.append_cached(word_name(word), out)) {
            if (out != ids_of(word)) ++wrong[t];
          } else {
            cache.remember(word_name(word), ids_of(word));
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong == std::vector<int>(4, 0));
  std::vector<int32_t> out;
  CHECK(cache.append_cached(word_name(17), out));
  CHECK(out == ids_of(17));
}

TEST_CASE("word cache: many distinct words do not all stay (bounded), the latest do", "[tokenizer]") {
  const mp::WordCache cache;
  // Twice what the cache holds: every part of it fills and starts over at least once.
  constexpr int kWords = 2 * 64 * 4096;
  for (int w = 0; w < kWords; ++w) cache.remember(word_name(w), ids_of(w));
  int early_kept = 0;
  std::vector<int32_t> out;
  for (int w = 0; w < 1000; ++w) early_kept += cache.append_cached(word_name(w), out) ? 1 : 0;
  CHECK(early_kept == 0);
  out.clear();
  CHECK(cache.append_cached(word_name(kWords - 1), out));
  CHECK(out == ids_of(kWords - 1));
}
