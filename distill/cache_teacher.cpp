#include "distill/cache_teacher.h"

#include <filesystem>

#include "lib/base/error.h"

namespace mp {

CacheTeacherSummary cache_teacher(const TokenDataset& dataset, const std::string& out_path,
                                  TeacherCacheIdentity identity, const TeacherLogits& teacher,
                                  const CacheProgress& progress) {
  identity.dataset_sha256 = dataset.tokens_sha256();
  TeacherCacheWriter writer(out_path, identity);
  const int64_t total = dataset.n_tokens();
  CacheTeacherSummary summary;
  summary.resumed_tokens = writer.tokens_written();
  if (summary.resumed_tokens % identity.context != 0 && summary.resumed_tokens != total)
    fail_input(out_path, "partial teacher cache ends inside a window; delete it to start over");
  for (int64_t start = writer.tokens_written(); start < total; start += identity.context) {
    const std::vector<int32_t> window = dataset.read(start, std::min(identity.context, total - start));
    const at::Tensor logits = teacher(window);
    if (logits.dim() != 2 || logits.size(0) != static_cast<int64_t>(window.size()))
      fail_runtime("teacher returned logits of the wrong shape for a window of " +
                   std::to_string(window.size()) + " tokens");
    writer.append(teacher_topk(logits, identity.k));
    if (progress) progress(writer.tokens_written(), total);
  }
  summary.tokens = writer.tokens_written();
  writer.commit();
  summary.bytes_on_disk = static_cast<int64_t>(std::filesystem::file_size(out_path));
  return summary;
}

}  // namespace mp
