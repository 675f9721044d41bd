// Integer codes packed into int32 words the way GPTQ and AWQ checkpoints store them: along one
// dimension, the codes of a run of words form one little-endian bit stream, code k at bit k·bits.
// For 2, 4 and 8 bits a word holds 32/bits whole codes; 3-bit codes come in runs of 32 codes over 3
// words, codes 10 and 21 straddling a word boundary (as AutoGPTQ/GPTQModel pack them).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace mp {

// Codes per run and words per run: the packed length along `dim` must be a multiple of the first.
int64_t codes_per_word_run(int bits);
int64_t words_per_word_run(int bits);

// values: integer [n0, n1] with every value in [0, 2^bits). Packs along `dim` (0 or 1): the packed
// dimension shrinks from n to n·bits/32. Returns int32 (the bit pattern of uint32 words).
at::Tensor pack_bits(const at::Tensor& values, int bits, int64_t dim);
// The inverse: int32 codes, `count` of them along `dim`.
at::Tensor unpack_bits(const at::Tensor& words, int bits, int64_t dim, int64_t count);

}  // namespace mp
