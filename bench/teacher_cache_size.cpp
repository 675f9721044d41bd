// Teacher cache size per token for k = 16, 32, 64 and both logprob storages: the uncompressed
// layout and what the chunked, deflated HDF5 file takes on disk.
// Logits are synthetic (gaussian, sd 3, Llama-2-sized vocabulary of 32000), so the top-k indices
// are spread over the whole vocabulary; a real teacher's are more repetitive and compress better.
#include <cstdio>
#include <filesystem>

#include "distill/teacher_cache.h"

int main() {
  const int64_t tokens = 4096, vocab = 32000;
  at::manual_seed(0);
  const at::Tensor logits = at::randn({tokens, vocab}) * 3.0;
  const std::string path =
      (std::filesystem::temp_directory_path() / "modelpress-bench-teacher-cache.h5").string();
  std::printf("%4s %8s %22s %20s\n", "k", "logprobs", "uncompressed B/token", "on disk B/token");
  for (int64_t k : {16, 32, 64}) {
    const mp::TeacherTopK top = mp::teacher_topk(logits, k);
    for (auto storage : {mp::LogprobStorage::float16, mp::LogprobStorage::float32}) {
      {
        mp::TeacherCacheWriter writer(path, {k, 1024, "bench-teacher", "bench-dataset", storage});
        for (int64_t start = 0; start < tokens; start += 1024)
          writer.append(mp::slice_rows(top, start, 1024));
        writer.commit();
      }
      const double on_disk = static_cast<double>(std::filesystem::file_size(path)) / tokens;
      std::printf("%4ld %8s %22ld %20.1f\n", static_cast<long>(k),
                  storage == mp::LogprobStorage::float16 ? "float16" : "float32",
                  static_cast<long>(mp::teacher_cache_bytes_per_token(k, storage)), on_disk);
      std::filesystem::remove(path);
    }
  }
}
