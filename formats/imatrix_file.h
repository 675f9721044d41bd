// llama.cpp's importance matrices ("imatrix"): per linear weight and input column, the sum of the
// squared activations that column saw, and how many tokens contributed. Two file formats exist:
// - the legacy `.dat` of llama-imatrix before its GGUF output: i32 entry count; per entry i32 name
//   length, the name, i32 ncall (chunks seen), i32 nval, nval f32 values (mean of x² times ncall);
//   then, optionally, i32 chunk count and i32 length + the calibration file's name.
// - GGUF (general.type "imatrix"): per weight `<name>.in_sum2` F32 [n_mat, nval] (sums of x²) and
//   `<name>.counts` F32 [n_mat, 1] (tokens), keys imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size.
// Both keep here what llama-quantize reads: a weight's importance is sums / counts (GGUF) or
// values / ncall (legacy), computed in float as llama-quantize does.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mp {

struct ImatrixEntry {
  std::vector<float> sums;      // legacy: mean x² · ncall; GGUF: Σ x²
  std::vector<int64_t> counts;  // legacy: {ncall}; GGUF: tokens per matrix (one unless experts)
};

struct ImportanceMatrix {
  std::map<std::string, ImatrixEntry> entries;  // GGUF tensor name ("blk.0.attn_q.weight") -> data
  std::vector<std::string> datasets;            // calibration file names
  int32_t chunk_count = 0, chunk_size = 0;      // chunk_size 0: unknown (legacy files)
  bool legacy = false;                          // the form `sums` and `counts` hold

  // llama-quantize's importance vector per weight name (the weights of its quantizer).
  std::map<std::string, std::vector<float>> importance() const;
};

// Either format, told apart by the GGUF magic. Every size is validated against the file; a defect
// fails with "<path>: <problem>" (bad input).
ImportanceMatrix read_imatrix(const std::string& path);

// Written atomically. `legacy` picks the `.dat` form; the matrix is converted if it holds the other.
// The GGUF form also records this command's provenance (general.modelpress.* keys); a .dat has no
// place for it (its FILE.manifest.json holds it).
void write_imatrix(const ImportanceMatrix& matrix, const std::string& path, bool legacy);

}  // namespace mp
