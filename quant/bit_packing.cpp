#include "quant/bit_packing.h"

#include <numeric>

#include "lib/base/error.h"

namespace mp {
namespace {

constexpr int64_t kWordBits = 32;
constexpr int64_t kWordMask = 0xFFFFFFFF;

void check_bits(int bits) {
  if (bits < 1 || bits > 8) fail_runtime("bit packing: unsupported width " + std::to_string(bits));
}

// int64 words holding uint32 values → int32 with the same bit pattern.
at::Tensor to_int32_words(const at::Tensor& words) {
  return at::where(words >= (int64_t{1} << 31), words - (int64_t{1} << 32), words).to(at::kInt);
}

}  // namespace

int64_t codes_per_word_run(int bits) { return std::lcm<int64_t>(bits, kWordBits) / bits; }
int64_t words_per_word_run(int bits) { return std::lcm<int64_t>(bits, kWordBits) / kWordBits; }

at::Tensor pack_bits(const at::Tensor& values, int bits, int64_t dim) {
  check_bits(bits);
  if (dim == 1) return pack_bits(values.t(), bits, 0).t().contiguous();
  const int64_t count = values.size(0), width = values.size(1);
  const int64_t run_codes = codes_per_word_run(bits), run_words = words_per_word_run(bits);
  if (count % run_codes != 0)
    fail_runtime("bit packing: " + std::to_string(count) + " codes of " + std::to_string(bits) +
                 " bits do not fill whole words (need a multiple of " + std::to_string(run_codes) +
                 ")");
  const at::Tensor codes = values.to(at::kLong).reshape({count / run_codes, run_codes, width});
  if (codes.numel() > 0 &&
      (codes.min().item<int64_t>() < 0 || codes.max().item<int64_t>() >= (int64_t{1} << bits)))
    fail_runtime("bit packing: a code does not fit in " + std::to_string(bits) + " bits");

  at::Tensor words = at::zeros({count / run_codes, run_words, width}, at::kLong);
  for (int64_t k = 0; k < run_codes; ++k) {
    const int64_t bit = k * bits, word = bit / kWordBits, shift = bit % kWordBits;
    const at::Tensor code = codes.select(1, k);
    words.select(1, word).bitwise_or_(
        at::bitwise_and(at::bitwise_left_shift(code, shift), kWordMask));
    if (shift + bits > kWordBits)  // the high bits spill into the next word
      words.select(1, word + 1).bitwise_or_(at::bitwise_right_shift(code, kWordBits - shift));
  }
  return to_int32_words(words.reshape({count / run_codes * run_words, width}));
}

at::Tensor unpack_bits(const at::Tensor& words, int bits, int64_t dim, int64_t count) {
  check_bits(bits);
  if (dim == 1) return unpack_bits(words.t(), bits, 0, count).t().contiguous();
  const int64_t width = words.size(1);
  const int64_t run_codes = codes_per_word_run(bits), run_words = words_per_word_run(bits);
  if (count % run_codes != 0 || words.size(0) != count / run_codes * run_words)
    fail_runtime("bit unpacking: " + std::to_string(words.size(0)) + " words cannot hold " +
                 std::to_string(count) + " codes of " + std::to_string(bits) + " bits");
  const at::Tensor runs = at::bitwise_and(words.to(at::kLong), kWordMask)
                              .reshape({count / run_codes, run_words, width});
  const int64_t mask = (int64_t{1} << bits) - 1;
  std::vector<at::Tensor> codes;
  for (int64_t k = 0; k < run_codes; ++k) {
    const int64_t bit = k * bits, word = bit / kWordBits, shift = bit % kWordBits;
    at::Tensor code = at::bitwise_right_shift(runs.select(1, word), shift);
    if (shift + bits > kWordBits)
      code =
          at::bitwise_or(code, at::bitwise_left_shift(runs.select(1, word + 1), kWordBits - shift));
    codes.push_back(at::bitwise_and(code, mask));
  }
  return at::stack(codes, 1).reshape({count, width}).to(at::kInt);
}

}  // namespace mp
