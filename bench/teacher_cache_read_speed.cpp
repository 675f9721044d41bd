// What reading a teacher cache through the isolated HDF5 reader (formats/hdf5_isolated_reader.h)
// costs against libhdf5 in this process: open time, and every row read in training-sized windows.
//   build/teacher_cache_read_speed [TOKENS]   (default 2^21 tokens, k = 32, float16: 400 MiB of rows)
// The cache is synthetic (top-32 of gaussian logits over 32000 ids) and written to the temp
// directory first; the page cache holds it, so both readers measure decompression and copying.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "distill/teacher_cache.h"
#include "formats/hdf5_file.h"
#include "lib/runtime/thread_waits.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

mp::TeacherTopK synthetic_rows(int64_t rows, int64_t k) {
  const at::Tensor logprobs = std::get<0>(at::sort(at::randn({rows, k}) * 2.0 - 3.0, 1, true));
  return {at::randint(32000, {rows, k}, at::kLong), logprobs, at::full({rows}, -4.0f)};
}

}  // namespace

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  const int64_t tokens = argc > 1 ? std::atoll(argv[1]) : int64_t{1} << 21, k = 32, window = 4096;
  const std::string path = (std::filesystem::temp_directory_path() / "modelpress-bench-cache-read.h5").string();
  at::manual_seed(0);
  {
    mp::TeacherCacheWriter writer(path, {k, 256, "bench-teacher", "bench-dataset", mp::LogprobStorage::float16});
    const mp::TeacherTopK rows = synthetic_rows(window, k);
    for (int64_t start = 0; start < tokens; start += window) writer.append(rows);
    writer.commit();
  }
  const double mib = static_cast<double>(tokens * mp::teacher_cache_bytes_per_token(k, mp::LogprobStorage::float16)) /
                     (1 << 20);
  std::printf("cache: %ld tokens, k %ld, float16: %.0f MiB of rows, %.0f MiB on disk\n", static_cast<long>(tokens),
              static_cast<long>(k), mib, static_cast<double>(std::filesystem::file_size(path)) / (1 << 20));

  // In this process: what every read cost before the reader moved into its own process.
  auto start = std::chrono::steady_clock::now();
  {
    const mp::h5::File file = mp::h5::File::open_read(path);
    const mp::h5::Dataset indices = mp::h5::Dataset::open(file, "indices", H5T_NATIVE_INT32, "int32");
    const mp::h5::Dataset logprobs = mp::h5::Dataset::open(file, "logprobs", mp::h5::float16_type(), "float16");
    const mp::h5::Dataset tail = mp::h5::Dataset::open(file, "tail_logmass", H5T_NATIVE_FLOAT, "float32");
    std::vector<int32_t> i(static_cast<size_t>(window * k));
    std::vector<uint16_t> l(static_cast<size_t>(window * k));
    std::vector<float> t(static_cast<size_t>(window));
    for (int64_t s = 0; s < tokens; s += window) {
      indices.read(s, window, H5T_NATIVE_INT32, i.data());
      logprobs.read(s, window, mp::h5::float16_type(), l.data());
      tail.read(s, window, H5T_NATIVE_FLOAT, t.data());
    }
  }
  const double in_process = seconds_since(start);

  start = std::chrono::steady_clock::now();
  const mp::TeacherCacheReader reader(path);
  const double open = seconds_since(start);
  start = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < tokens; s += window) (void)reader.read(s, window);
  const double isolated = seconds_since(start);
  // TeacherCacheReader::read also widens to int64/float32 tensors; time that part alone.
  start = std::chrono::steady_clock::now();
  const mp::TeacherTopK rows = synthetic_rows(window, k);
  for (int64_t s = 0; s < tokens; s += window) {
    (void)rows.indices.to(at::kInt).to(at::kLong);
    (void)rows.logprobs.to(at::kHalf).to(at::kFloat);
  }
  const double widening = seconds_since(start);
  std::printf("%-34s %9s %10s\n", "", "seconds", "MiB/s");
  std::printf("%-34s %9.3f %10.0f\n", "libhdf5 in this process", in_process, mib / in_process);
  std::printf("%-34s %9.3f %10.0f\n", "isolated reader (incl. widening)", isolated, mib / isolated);
  std::printf("%-34s %9.3f\n", "  of which tensor widening", widening);
  std::printf("%-34s %9.4f\n", "isolated reader: open (fork)", open);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".manifest.json");
}
