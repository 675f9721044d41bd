#include "formats/gguf_types.h"

#include <cctype>

#include "lib/base/error.h"

namespace mp {

namespace {

// Block sizes and byte counts follow the block structs of ggml-common.h.
constexpr GgmlTypeInfo kTypes[] = {
    {GgmlType::F32, "f32", 1, 4, true},
    {GgmlType::F16, "f16", 1, 2, true},
    {GgmlType::Q4_0, "q4_0", 32, 18, true},
    {GgmlType::Q4_1, "q4_1", 32, 20, true},
    {GgmlType::Q5_0, "q5_0", 32, 22, true},
    {GgmlType::Q5_1, "q5_1", 32, 24, true},
    {GgmlType::Q8_0, "q8_0", 32, 34, true},
    {GgmlType::Q8_1, "q8_1", 32, 36, false},
    {GgmlType::Q2_K, "q2_K", 256, 84, true},
    {GgmlType::Q3_K, "q3_K", 256, 110, true},
    {GgmlType::Q4_K, "q4_K", 256, 144, true},
    {GgmlType::Q5_K, "q5_K", 256, 176, true},
    {GgmlType::Q6_K, "q6_K", 256, 210, true},
    {GgmlType::Q8_K, "q8_K", 256, 292, false},
    {GgmlType::IQ2_XXS, "iq2_xxs", 256, 66, false},
    {GgmlType::IQ2_XS, "iq2_xs", 256, 74, false},
    {GgmlType::IQ3_XXS, "iq3_xxs", 256, 98, false},
    {GgmlType::IQ1_S, "iq1_s", 256, 50, false},
    {GgmlType::IQ4_NL, "iq4_nl", 32, 18, true},
    {GgmlType::IQ3_S, "iq3_s", 256, 110, false},
    {GgmlType::IQ2_S, "iq2_s", 256, 82, false},
    {GgmlType::IQ4_XS, "iq4_xs", 256, 136, true},
    {GgmlType::I8, "i8", 1, 1, false},
    {GgmlType::I16, "i16", 1, 2, false},
    {GgmlType::I32, "i32", 1, 4, false},
    {GgmlType::I64, "i64", 1, 8, false},
    {GgmlType::F64, "f64", 1, 8, false},
    {GgmlType::IQ1_M, "iq1_m", 256, 56, false},
    {GgmlType::BF16, "bf16", 1, 2, true},
    {GgmlType::TQ1_0, "tq1_0", 256, 54, false},
    {GgmlType::TQ2_0, "tq2_0", 256, 66, false},
    {GgmlType::MXFP4, "mxfp4", 32, 17, false},
    {GgmlType::NVFP4, "nvfp4", 64, 36, false},
    {GgmlType::Q1_0, "q1_0", 128, 18, false},
    {GgmlType::Q2_0, "q2_0", 64, 18, false},
};

bool same_ignoring_case(const std::string& a, const char* b) {
  size_t i = 0;
  for (; i < a.size() && b[i]; ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return i == a.size() && !b[i];
}

}  // namespace

const GgmlTypeInfo* find_ggml_type(uint32_t id) {
  for (const auto& info : kTypes)
    if (static_cast<uint32_t>(info.type) == id) return &info;
  return nullptr;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) {
  const GgmlTypeInfo* info = find_ggml_type(static_cast<uint32_t>(type));
  if (!info) fail_runtime("unknown ggml type id " + std::to_string(static_cast<uint32_t>(type)));
  return *info;
}

const char* ggml_type_name(GgmlType type) { return ggml_type_info(type).name; }

bool parse_ggml_type(const std::string& name, GgmlType* out) {
  for (const auto& info : kTypes)
    if (same_ignoring_case(name, info.name)) {
      *out = info.type;
      return true;
    }
  return false;
}

uint64_t ggml_row_bytes(GgmlType type, int64_t elements) {
  const GgmlTypeInfo& info = ggml_type_info(type);
  if (elements < 0 || elements % info.block_size != 0)
    fail_runtime(std::string(info.name) + " stores blocks of " + std::to_string(info.block_size) +
                 " values; " + std::to_string(elements) + " is not a multiple");
  return static_cast<uint64_t>(elements / info.block_size) * static_cast<uint64_t>(info.block_bytes);
}

}  // namespace mp
