#include "formats/gguf_export_plan.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "lib/base/error.h"
#include "lib/base/name_pattern.h"

namespace mp {

namespace {

// llama.cpp's LLAMA_FTYPE numbers (llama.h); they are part of the file format via general.file_type.
struct Mix {
  const char* name;
  uint32_t file_type;
  GgmlType base;
};
// clang-format off
const Mix kMixes[] = {
  {"F32", 0, GgmlType::F32}, {"F16", 1, GgmlType::F16}, {"BF16", 32, GgmlType::BF16},
  {"Q4_0", 2, GgmlType::Q4_0}, {"Q4_1", 3, GgmlType::Q4_1}, {"Q8_0", 7, GgmlType::Q8_0},
  {"Q5_0", 8, GgmlType::Q5_0}, {"Q5_1", 9, GgmlType::Q5_1}, {"Q2_K", 10, GgmlType::Q2_K},
  {"Q3_K_S", 11, GgmlType::Q3_K}, {"Q3_K_M", 12, GgmlType::Q3_K}, {"Q3_K_L", 13, GgmlType::Q3_K},
  {"Q4_K_S", 14, GgmlType::Q4_K}, {"Q4_K_M", 15, GgmlType::Q4_K}, {"Q5_K_S", 16, GgmlType::Q5_K},
  {"Q5_K_M", 17, GgmlType::Q5_K}, {"Q6_K", 18, GgmlType::Q6_K}, {"IQ4_NL", 25, GgmlType::IQ4_NL},
  {"IQ4_XS", 30, GgmlType::IQ4_XS},
  // llama-quantize's aliases
  {"Q3_K", 12, GgmlType::Q3_K}, {"Q4_K", 15, GgmlType::Q4_K}, {"Q5_K", 17, GgmlType::Q5_K},
};
// clang-format on
// The file types the per-tensor rules test for.
enum FileType : uint32_t {
  Q4_0 = 2, Q5_0 = 8, Q2_K = 10, Q3_K_M = 12, Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15, Q5_K_M = 17, IQ4_NL = 25, IQ4_XS = 30,
};

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// llama-quantize's layer heuristic: the first and last eighth, and every third layer between.
bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool is_quantized(GgmlType t) { return ggml_type_info(t).block_size > 1; }

// The mix's choice before any row-length check (llama_tensor_get_type without the 70B and MoE
// special cases, which need shapes this exporter does not produce).
GgmlType rule_type(uint32_t ft, GgmlType base, const LlamaTensorName& t, int64_t row, int64_t n_layers,
                   int64_t n_gqa, bool tied, bool has_imatrix) {
  const std::string& name = t.gguf;
  const int64_t i = t.layer;
  if (name == "output.weight" || (tied && name == "token_embd.weight")) {
    if (row % ggml_type_info(base).block_size != 0) return GgmlType::Q8_0;
    return base == GgmlType::Q8_0 ? base : GgmlType::Q6_K;
  }
  if (contains(name, "attn_v.weight")) {
    if (ft == Q2_K) return n_gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
    if (ft == Q3_K_M) return i < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
    if (ft == Q3_K_L) return GgmlType::Q5_K;
    if ((ft == IQ4_NL || ft == IQ4_XS) && n_gqa >= 4) return GgmlType::Q5_K;
    if ((ft == Q4_K_M || ft == Q5_K_M) && use_more_bits(i, n_layers)) return GgmlType::Q6_K;
    if (ft == Q4_K_S && i < 4) return GgmlType::Q5_K;
    return base;
  }
  if (contains(name, "ffn_down")) {
    if (ft == Q2_K) return GgmlType::Q3_K;
    if (ft == Q3_K_M) return i < n_layers / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
    if (ft == Q3_K_L) return GgmlType::Q5_K;
    if (ft == Q4_K_M) return use_more_bits(i, n_layers) ? GgmlType::Q6_K : base;
    if (i < n_layers / 8 && (ft == IQ4_NL || ft == IQ4_XS) && !has_imatrix) return GgmlType::Q5_K;
    if (ft == Q5_K_M && use_more_bits(i, n_layers)) return GgmlType::Q6_K;
    if (ft == Q4_K_S && i < n_layers / 8) return GgmlType::Q5_K;
    // With an imatrix, llama-quantize guards the first ffn_down layers of Q4_0/Q5_0 with a minimum.
    if ((ft == Q4_0 || ft == Q5_0) && has_imatrix && i < n_layers / 8)
      return ft == Q4_0 ? GgmlType::Q4_1 : GgmlType::Q5_1;
    return base;
  }
  if (contains(name, "attn_qkv.weight")) {  // phi3's fused q, k, v
    if (ft == Q3_K_M || ft == Q3_K_L) return GgmlType::Q4_K;
    if (ft == Q4_K_M) return GgmlType::Q5_K;
    if (ft == Q5_K_M) return GgmlType::Q6_K;
    return base;
  }
  if (contains(name, "attn_output.weight")) {
    if (ft == Q2_K) return GgmlType::Q3_K;
    if (ft == Q3_K_M) return GgmlType::Q4_K;
    if (ft == Q3_K_L) return GgmlType::Q5_K;
  }
  return base;
}

// llama.cpp's fallback for rows a type cannot hold: a block-32 type of similar quality, else F16.
// Legacy types (which llama.cpp refuses outright) and IQ4_NL also end at F16 here.
GgmlType fallback_type(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::IQ4_XS:
      return GgmlType::IQ4_NL;
    case GgmlType::Q4_K:
      return GgmlType::Q5_0;
    case GgmlType::Q5_K:
      return GgmlType::Q5_1;
    case GgmlType::Q6_K:
      return GgmlType::Q8_0;
    default:
      return GgmlType::F16;
  }
}

}  // namespace

std::string gguf_export_type_choices() {
  std::string out;
  for (const Mix& m : kMixes) out += (out.empty() ? "" : ", ") + std::string(m.name);
  return out;
}

GgufExportType parse_gguf_export_type(const std::string& name, bool pure) {
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char ch) { return std::toupper(ch); });
  for (const Mix& m : kMixes)
    if (upper == m.name) return {upper, m.file_type, m.base, pure};
  fail_input("--type", "unknown GGUF type \"" + name + "\" (choices: " + gguf_export_type_choices() + ")");
}

GgmlType parse_gguf_tensor_type(const std::string& option, const std::string& name) {
  GgmlType t;
  if (!parse_ggml_type(name, &t) || !ggml_type_info(t).has_codec)
    fail_input(option, "\"" + name + "\" is not a ggml type modelpress can write");
  return t;
}

void GgufTypeOverrides::add_tensor_type(const std::string& option, const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0) fail_input(option, "\"" + spec + "\" is not REGEX=TYPE");
  (void)compile_name_pattern(spec.substr(0, eq), option);
  tensor_types.emplace_back(spec.substr(0, eq), parse_gguf_tensor_type(option, spec.substr(eq + 1)));
}

// llama_tensor_get_type's order: the explicit types of token_embd and output, then for quantized
// file types the first matching --tensor-type, then (unless --pure) a tied token_embd taking
// --output-tensor-type.
std::optional<GgmlType> user_tensor_type(const GgufExportType& type, const std::string& name, bool tied) {
  const GgufTypeOverrides& o = type.overrides;
  if (o.leave_output && name == "output.weight") return GgmlType::F32;
  if (o.token_embedding && name == "token_embd.weight") return *o.token_embedding;
  if (o.output && name == "output.weight") return *o.output;
  if (!is_quantized(type.base)) return std::nullopt;
  for (const auto& [pattern, t] : o.tensor_types)
    if (std::regex_search(name, compile_name_pattern(pattern, "--tensor-type"))) return t;
  if (!type.pure && o.output && tied && name == "token_embd.weight") return *o.output;
  return std::nullopt;
}

namespace {

// The explicit types first, then the allocation or the mix rules unless --pure.
GgmlType wanted_type(const GgufExportType& type, const LlamaTensorName& tensor, int64_t row, int64_t n_layers,
                     int64_t n_gqa, bool tied, bool has_imatrix) {
  const auto allocated = type.overrides.allocated.find(tensor.gguf);
  if (allocated != type.overrides.allocated.end()) return allocated->second;
  if (const std::optional<GgmlType> t = user_tensor_type(type, tensor.gguf, tied)) return *t;
  if (!is_quantized(type.base) || type.pure) return type.base;
  return rule_type(type.file_type, type.base, tensor, row, n_layers, n_gqa, tied, has_imatrix);
}

}  // namespace

TensorTypeChoice choose_tensor_type(const GgufExportType& type, const LlamaTensorName& tensor,
                                    const std::vector<int64_t>& shape, int64_t n_layers, int64_t n_gqa,
                                    bool tied, bool has_imatrix) {
  // 1-D tensors (norms, biases) stay F32 in every llama.cpp file type.
  if (shape.size() < 2) return {GgmlType::F32, GgmlType::F32, ""};
  const int64_t row = shape.back();
  const GgmlType wanted = wanted_type(type, tensor, row, n_layers, n_gqa, tied, has_imatrix);
  GgmlType used = wanted;
  std::string why;
  while (row % ggml_type_info(used).block_size != 0) {
    const GgmlType next = fallback_type(used);
    why += (why.empty() ? "" : "; ") + std::string("rows of ") + std::to_string(row) + " are not a multiple of " +
           ggml_type_name(used) + "'s block of " + std::to_string(ggml_type_info(used).block_size);
    used = next;
  }
  return {wanted, used, why};
}

}  // namespace mp
