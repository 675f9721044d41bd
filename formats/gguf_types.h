// ggml tensor types as GGUF stores them: the numeric id in the file, the name llama.cpp prints, and
// the block geometry (elements per block, bytes per block) that every size computation rests on.
#pragma once
#include <cstdint>
#include <string>

namespace mp {

// Ids are fixed by the file format; gaps are types ggml has since removed.
// clang-format off
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41, Q2_0 = 42,
};
// clang-format on

struct GgmlTypeInfo {
  GgmlType type;
  const char* name;     // as llama.cpp spells it: "q4_K", "iq4_nl", "bf16", ...
  int64_t block_size;   // elements per block (1 for plain number types)
  int64_t block_bytes;  // bytes per block
  bool has_codec;       // modelpress can dequantize and quantize it (formats/gguf_codecs.h)
};

// nullptr for an id this table does not know (a file from a newer ggml, or garbage).
const GgmlTypeInfo* find_ggml_type(uint32_t id);
const GgmlTypeInfo& ggml_type_info(GgmlType type);
const char* ggml_type_name(GgmlType type);
// Case-insensitive: "Q4_K", "q4_k" and "q4_K" all name Q4_K.
bool parse_ggml_type(const std::string& name, GgmlType* out);

// Bytes of `elements` values; fails unless `elements` is a whole number of blocks.
uint64_t ggml_row_bytes(GgmlType type, int64_t elements);

}  // namespace mp
