// GGUF export throughput (MB of f32 weights read per second) and peak RSS per file type, on a
// synthetic model with Llama-7B layer shapes (vocab 32000, hidden 4096, MLP 11008) written to /tmp.
//   bench_export [--layers L] [--shared DIR] [--pure] [TYPE ...]   (default: every file type)
// --pure gives every 2-D weight the base type (the codec alone, no mix rules).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "bench/synthetic_model.h"
#include "formats/gguf_export.h"
#include "lib/base/progress.h"
#include "lib/base/version.h"
#include "lib/runtime/thread_waits.h"

namespace fs = std::filesystem;
using namespace mp;
using namespace mp::bench;

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  int layers = 2;
  std::string shared = fs::path(mp::source_dir()).parent_path().string() + "/shared";
  std::vector<std::string> types;
  bool pure = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--layers") && i + 1 < argc) layers = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--shared") && i + 1 < argc) shared = argv[++i];
    else if (!std::strcmp(argv[i], "--pure")) pure = true;
    else types.push_back(argv[i]);
  }
  if (types.empty())
    types = {"F32",    "F16",    "BF16",   "Q8_0",   "Q4_0",   "Q4_1",   "Q5_0",   "Q5_1", "Q2_K",   "Q3_K_S",
             "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K",   "IQ4_NL", "IQ4_XS"};
  // The export needs a vocabulary of the model's size: Llama 2's tokenizer has 32000 pieces.
  const fs::path dir = synthetic_llama7b(layers, shared);
  Progress::set_quiet(true);
  const auto source = open_model(dir.string());
  const fs::path out = fs::temp_directory_path() / "modelpress-bench-export.gguf";
  for (const std::string& type : types) {
    reset_peak_rss();
    GgufExportOptions options;
    options.type = parse_gguf_export_type(type, pure);
    const auto t0 = std::chrono::steady_clock::now();
    const GgufExportSummary s = export_gguf(*source, out.string(), options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-8s%s %7.1f MB/s of f32 weights  %6.3f bits/weight  %7.1f s  peak RSS %8.1f MiB\n",
                type.c_str(), pure ? " pure" : "", s.weights * 4.0 / 1e6 / seconds, s.bits_per_weight(), seconds,
                peak_rss_mib());
    std::fflush(stdout);
  }
  fs::remove(out);
  return 0;
}
