// The offline teacher pass (`--cache-teacher`): run the teacher once over a token dataset and keep
// its top-k per token (distill/teacher_cache.h), resumably, so distillation never runs it again.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "distill/teacher_cache.h"
#include "distill/token_dataset.h"

namespace mp {

// The teacher's logits [n, V] for one window of n tokens, read from a fresh context.
using TeacherLogits = std::function<at::Tensor(const std::vector<int32_t>& window)>;
// Called after each window with (tokens done, tokens in the dataset).
using CacheProgress = std::function<void(int64_t, int64_t)>;

struct CacheTeacherSummary {
  int64_t tokens = 0;          // rows in the finished cache
  int64_t resumed_tokens = 0;  // rows an earlier, interrupted run had written
  int64_t bytes_on_disk = 0;
  double bytes_per_token() const { return tokens ? static_cast<double>(bytes_on_disk) / tokens : 0; }
};

// Windows of identity.context tokens from the dataset's start, one append each: an interrupted
// run resumes at the first window it had not finished. identity.dataset_sha256 is set from the
// dataset.
CacheTeacherSummary cache_teacher(const TokenDataset& dataset, const std::string& out_path,
                                  TeacherCacheIdentity identity, const TeacherLogits& teacher,
                                  const CacheProgress& progress = {});

}  // namespace mp
