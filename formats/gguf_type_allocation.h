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

// Minimises Σ loss subject to fixed_bytes + Σ bytes ≤ budget: a Lagrangian relaxation (each tensor
// takes argmin loss + λ·bytes; λ bisected to the smallest value whose mix fits), then a greedy pass
// that spends what is left on the upgrades with the best loss saved per byte, then one that tries
// to return bytes from one tensor to fund a better upgrade of another. Deterministic (ties go to
// fewer bytes, then to the earlier tensor). Returns the chosen candidate index per tensor. The
// caller checks that the smallest mix fits; if it does not, the smallest mix is returned.
// A size target as given on the command line: bits per weight of the whole file, or bytes.
struct GgufSizeTarget {
  double bpw = 0;      // > 0: budget = floor(bpw · weights / 8) bytes, the file's weights
  uint64_t bytes = 0;  // > 0: budget in bytes
  bool set() const { return bpw > 0 || bytes > 0; }
};

// What a size-targeted export chose, for the summary.
struct AllocatedTensor {
  std::string tensor;  // GGUF name
  GgmlType type;
  uint64_t bytes;  // tensor data, padding included
  double loss;     // the proxy loss of that type (formats/gguf_type_losses.h)
};
struct GgufTypeAllocation {
  uint64_t budget = 0;         // bytes the whole file may have
  uint64_t smallest = 0;       // the smallest file the candidates allow
  std::vector<AllocatedTensor> tensors;  // the allocated ones, in file order
  double total_loss() const;
};

std::vector<size_t> allocate_types(const std::vector<AllocatableTensor>& tensors, uint64_t fixed_bytes,
                                   uint64_t budget);

}  // namespace mp
