// The teacher cache: the teacher's top-k log-probabilities for every token of a token dataset,
// computed once so that distillation runs never run the teacher again.
//
// Layout (docs/distillation-data.md):
//   indices       int32 [n_tokens, k]
//   logprobs      float16 or float32 [n_tokens, k]   at temperature 1
//   tail_logmass  float32 [n_tokens]                 log(1 - sum of the k probabilities)
//   attributes    k, context, teacher_sha256, dataset_sha256, temperature (= 1),
//                 tokens_written, modelpress.* (provenance, set when complete)
// Row i is the teacher's distribution of the token after token i, given the tokens from the start
// of i's window: windows are `context` tokens long and start at multiples of `context`.
#pragma once
#include <cstdint>
#include <string>

#include "distill/teacher_topk.h"
#include "formats/hdf5_file.h"
#include "formats/hdf5_isolated_reader.h"
#include "lib/base/atomic_output.h"

namespace mp {

enum class LogprobStorage { float16, float32 };

struct TeacherCacheIdentity {
  int64_t k = 32;
  int64_t context = 256;       // the window the teacher saw; readers must use the same windows
  std::string teacher_sha256;  // what produced the numbers
  std::string dataset_sha256;  // TokenDataset::tokens_sha256() of the tokens they describe
  LogprobStorage storage = LogprobStorage::float16;
};

// Writes `path` through a resumable partial file beside it. When a partial file for the same
// identity exists, writing continues after the rows it holds (tokens_written()); a partial file for
// a different teacher, dataset, k, context or storage is bad input. Each append() is durable on return.
class TeacherCacheWriter {
 public:
  TeacherCacheWriter(const std::string& path, const TeacherCacheIdentity& identity);
  int64_t tokens_written() const { return tokens_written_; }
  void append(const TeacherTopK& rows);
  void commit();  // the cache is complete: rename it into place

 private:
  AtomicPath output_;
  TeacherCacheIdentity identity_;
  h5::File file_;
  h5::Dataset indices_, logprobs_, tail_;
  int64_t tokens_written_ = 0;
};

// Reads a complete cache through an h5::IsolatedReader: the file may come from anywhere.
class TeacherCacheReader {
 public:
  explicit TeacherCacheReader(const std::string& path);
  const TeacherCacheIdentity& identity() const { return identity_; }
  int64_t n_tokens() const { return n_tokens_; }
  // Rows [start, start + count), logprobs widened to float32.
  TeacherTopK read(int64_t start, int64_t count) const;

 private:
  h5::IsolatedReader file_;
  TeacherCacheIdentity identity_;
  h5::RemoteDataset indices_, logprobs_, tail_;
  int64_t n_tokens_;
};

// Uncompressed bytes the cache spends per token.
int64_t teacher_cache_bytes_per_token(int64_t k, LogprobStorage storage);

}  // namespace mp
