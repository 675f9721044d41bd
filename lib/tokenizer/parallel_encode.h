// Encoding many texts on many threads; the result does not depend on the thread count.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lib/tokenizer/tokenizer.h"

namespace mp {

// ids[i] = tokenizer.encode(texts[i], add_special); threads <= 0: one per core.
std::vector<std::vector<int32_t>> parallel_encode(const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                                  bool add_special, int threads);

}  // namespace mp
