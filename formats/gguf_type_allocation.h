// Size-targeted GGUF mixes: given, per tensor, candidate ggml types with their file bytes and a
// measured loss, pick one candidate per tensor so that the file fits a byte budget and the summed
// loss is as small as this search finds. Pure arithmetic: the losses are measured elsewhere
// (formats/gguf_type_losses.h), and the choice reaches the file through GgufTypeOverrides.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/gguf_types.h"

namespace mp {

struct TypeCandidate {
  GgmlType type;
  uint64_t bytes;  // what the tensor adds to the file, alignment padding included
  double loss;
};

struct AllocatableTensor {
  std::string name;
  std::vector<TypeCandidate> candidates;  // at least one
};

// Minimises Σ loss subject to fixed_bytes + Σ bytes ≤ budget exactly: a dynamic programme over the
// room in units of 32 bytes (every candidate's padded bytes are a multiple of 32), so the result is
// the optimum. When tensors × units would pass 2^26 (models far larger than a few hundred MB), the
// unit grows and each candidate's bytes are rounded up to it, which keeps the mix within the budget
// at the price of at most one unit per tensor; a greedy pass then spends what the rounding left
// over. Deterministic (ties go to fewer bytes, then to earlier candidates). Returns the chosen
// candidate index per tensor; when the smallest mix does not fit, the smallest mix.
// A size target as given on the command line: bits per weight of the whole file, or bytes.
struct GgufSizeTarget {
  double bpw = 0;      // > 0: budget = floor(bpw · weights / 8) bytes, the file's weights
  uint64_t bytes = 0;  // > 0: budget in bytes
  // The loss's calibration text (formats/gguf_logit_losses.h): windows × seqlen tokens of it. Empty:
  // the weight-space proxy (formats/gguf_type_losses.h).
  std::string calib, tokenizer;
  int64_t windows = 8, seqlen = 256;  // seqlen 0: min(2048, the model's context)
  uint64_t seed = 0;
  // "kl": every candidate's KL measured; "kl-scaled": q4_K's measured, the others' the proxy scaled
  // by that tensor's KL/proxy ratio.
  std::string loss = "kl";
  bool set() const { return bpw > 0 || bytes > 0; }
};

// What a size-targeted export chose, for the summary.
struct AllocatedTensor {
  std::string tensor;  // GGUF name
  GgmlType type;
  uint64_t bytes;  // tensor data, padding included
  double loss;     // the loss of that type, in the allocation's loss_kind
};
struct GgufTypeAllocation {
  uint64_t budget = 0;         // bytes the whole file may have
  uint64_t smallest = 0;       // the smallest file the candidates allow
  std::vector<AllocatedTensor> tensors;  // the allocated ones, in file order
  std::string loss_kind;       // "kl" (nats per token), "kl-scaled", or "proxy" (no calibration text)
  double mix_kl = -1;          // KL measured with every allocated tensor quantized at once; -1: not measured
  double total_loss() const;
};

std::vector<size_t> allocate_types(const std::vector<AllocatableTensor>& tensors, uint64_t fixed_bytes,
                                   uint64_t budget);

}  // namespace mp
