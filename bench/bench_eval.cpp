// Eval throughput (tokens/s of the forward pass) and peak RSS, f32 and bf16 compute, for the
// stories260K reference model and for a synthetic model with Llama-7B layer shapes.
//   bench_eval [--threads N] [--layers L] [--tokens T] [--shared DIR]
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bench/synthetic_model.h"
#include "lib/base/version.h"
#include "lib/runtime/llama_model.h"
#include "lib/runtime/thread_waits.h"

namespace fs = std::filesystem;
using namespace mp;
using mp::bench::peak_rss_mib;
using mp::bench::reset_peak_rss;

namespace {

void measure(const std::string& label, const std::string& model_dir, const std::string& dtype, int64_t batch,
             int64_t seq, int reps) {
  reset_peak_rss();
  LlamaModel model(open_model(model_dir), parse_runtime_options("cpu", dtype));
  at::Tensor tokens = at::randint(3, model.config().vocab_size, {batch, seq}, at::kLong);
  model.forward(tokens.narrow(1, 0, std::min<int64_t>(seq, 16)));  // load weights, warm up
  auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) model.forward(tokens);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-24s %-5s batch %2lld x %4lld  %10.1f tokens/s  peak RSS %8.1f MiB\n", label.c_str(), dtype.c_str(),
              static_cast<long long>(batch), static_cast<long long>(seq), reps * batch * seq / s, peak_rss_mib());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  int threads = 2, layers = 2;
  int64_t tokens = 256;
  std::string shared = fs::path(mp::source_dir()).parent_path().string() + "/shared";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--layers")) layers = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--tokens")) tokens = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--shared")) shared = argv[i + 1];
  }
  at::set_num_threads(threads);
  std::printf("bench_eval: %d threads\n", threads);
  const std::string stories = shared + "/models/stories260K";
  if (fs::exists(stories)) {
    for (const char* dtype : {"f32", "bf16"}) measure("stories260K", stories, dtype, 8, 256, 10);
  } else {
    std::printf("stories260K not found at %s (pass --shared DIR)\n", stories.c_str());
  }
  const fs::path dir = bench::synthetic_llama7b(layers, shared);
  const double gib = fs::file_size(dir / "model.safetensors") / double(1 << 30);
  std::printf("synthetic model: %.2f GiB of f32 weights\n", gib);
  for (const char* dtype : {"f32", "bf16"})
    measure("llama7b-shapes x" + std::to_string(layers), dir.string(), dtype, 1, tokens, 2);
  return 0;
}
