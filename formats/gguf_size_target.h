// --target-bpw / --target-size: turns a size target into per-tensor ggml types. Every 2-D weight that
// no user override pins (token_embd and output included) is offered q2_K, q3_K, q4_K, q5_K, q6_K and
// q8_0 (or what its row length falls back to, as choose_tensor_type does); each candidate's loss is
// its KL at the logits on calibration text (formats/gguf_logit_losses.h) when GgufSizeTarget::calib
// is set, else a proxy measured on the weights (formats/gguf_type_losses.h), and allocate_types
// picks the mix under the budget, which counts the whole file: header, metadata, padding and every tensor. Export and
// quantize --to gguf share this, and the result reaches the file through GgufTypeOverrides::allocated.
#pragma once
#include <functional>

#include "formats/gguf_export.h"

namespace mp {

// The allocation problem of a size target: every allocatable tensor's candidates with their bytes and
// measured loss, and the bytes of the rest of the file (header, metadata, pinned and 1-D tensors).
struct SizeTargetProblem {
  std::vector<AllocatableTensor> tensors;
  uint64_t fixed_bytes = 0;
  uint64_t f32_bytes = 0;  // the whole file with every tensor F32
  int64_t parameters = 0;  // the file's weights, which --target-bpw counts bits for
  std::string loss_kind;   // GgufTypeAllocation::loss_kind
  // With a KL loss: the KL measured with tensors[i] quantized to types[i], all at once.
  std::function<double(const std::vector<GgmlType>& types)> mix_kl;
  uint64_t smallest() const;  // the smallest file the candidates allow
};
SizeTargetProblem size_target_problem(const ModelSource& source, const GgufExportOptions& options);

// Fills options.allocation and options.type.overrides.allocated when options.target is set and no
// allocation was made yet. Bad input (one line, exit 3): no importance matrix, a --type that is not a
// quantized mix, a target below the smallest file the candidates allow or above the F32 file, a
// linear the importance matrix has no entry for.
void allocate_size_target(const ModelSource& source, GgufExportOptions& options);

}  // namespace mp
