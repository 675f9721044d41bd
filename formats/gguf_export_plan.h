// Which ggml type each tensor of an exported GGUF gets: llama.cpp's file types ("mixes") and the
// per-tensor rules llama-quantize applies for them (llama_tensor_get_type), plus the fallbacks for
// rows a block type cannot hold. Every deviation from the requested type is recorded with a reason,
// so the export summary can list it.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "formats/gguf_llama_names.h"
#include "formats/gguf_types.h"

namespace mp {

// llama-quantize's per-tensor options. A type given here is used as given (only a row length its
// block does not divide still falls back); the mix rules decide the rest.
struct GgufTypeOverrides {
  std::vector<std::pair<std::string, GgmlType>> tensor_types;  // --tensor-type REGEX=TYPE: first match wins
  std::optional<GgmlType> output;           // --output-tensor-type (also a tied token_embd's)
  std::optional<GgmlType> token_embedding;  // --token-embedding-type
  bool leave_output = false;                // --leave-output-tensor: output.weight stays F32
  std::map<std::string, GgmlType> allocated;  // GGUF name -> type of a size-targeted mix; before all else

  // "REGEX=TYPE"; fails (bad input, naming `option`) for a bad regex or type.
  void add_tensor_type(const std::string& option, const std::string& spec);
};
// A ggml type name (case-insensitive) that modelpress can encode; bad input naming `option` otherwise.
GgmlType parse_gguf_tensor_type(const std::string& option, const std::string& name);

struct GgufExportType {
  std::string name;      // as given on the command line, upper case: "Q4_K_M"
  uint32_t file_type;    // llama.cpp's LLAMA_FTYPE_* number, stored as general.file_type
  GgmlType base;         // the type most 2-D weights get
  bool pure = false;     // every 2-D weight gets `base` (llama-quantize --pure)
  GgufTypeOverrides overrides;
};

// Accepts F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K(_S/_M/_L) Q4_K(_S/_M) Q5_K(_S/_M) Q6_K
// IQ4_NL IQ4_XS, case-insensitive; Q3_K/Q4_K/Q5_K mean the _M mixes, as in llama-quantize.
// Fails with a bad-input error listing the choices.
GgufExportType parse_gguf_export_type(const std::string& name, bool pure);
std::string gguf_export_type_choices();

// The type the user's overrides give a tensor, in llama_tensor_get_type's order; nullopt when the
// mix rules (or `allocated`) decide it.
std::optional<GgmlType> user_tensor_type(const GgufExportType& type, const std::string& gguf_name, bool tied);

struct TensorTypeChoice {
  GgmlType wanted;  // what the mix's rules ask for
  GgmlType used;    // what the file holds
  std::string why;  // empty unless used != wanted: why the fallback was needed
};

// `n_layers` and `n_gqa` (heads per KV head) drive the rules that depend on the layer position.
// `tied` is true when token_embd doubles as the output matrix; `has_imatrix` when an importance
// matrix is given (llama-quantize then changes the first ffn_down layers of IQ4 and Q4_0/Q5_0).
TensorTypeChoice choose_tensor_type(const GgufExportType& type, const LlamaTensorName& tensor,
                                    const std::vector<int64_t>& shape, int64_t n_layers, int64_t n_gqa,
                                    bool tied, bool has_imatrix = false);

}  // namespace mp
