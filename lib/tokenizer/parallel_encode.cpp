#include "lib/tokenizer/parallel_encode.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

namespace mp {

std::vector<std::vector<int32_t>> parallel_encode(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                                  bool add_special, int threads) {
  std::vector<std::vector<int32_t>> ids(texts.size());
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<size_t>(threads, texts.size()));
  // Texts are handed out one at a time, so a long one does not leave the other threads idle.
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
  auto work = [&] {
    try {
      for (size_t i; !failed && (i = next++) < texts.size();) ids[i] = tokenizer.encode(texts[i], add_special);
    } catch (...) {
      if (!failed.exchange(true)) failure = std::current_exception();
    }
  };
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  if (failure) std::rethrow_exception(failure);
  return ids;
}

}  // namespace mp
