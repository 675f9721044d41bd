// Whole-model quantization of a synthetic model with Llama-7B layer shapes through the real
// pipeline (calibration, layer-by-layer GPTQ or RTN, HF GPTQ checkpoint): seconds per layer and
// peak RSS next to the size of the whole model, one layer, and the calibration activations.
//   bench_quantize [--method gptq|rtn] [--threads N] [--layers L] [--nsamples S] [--seqlen T] [--shared DIR]
#include <ATen/Parallel.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "bench/synthetic_model.h"
#include "formats/gptq_checkpoint.h"
#include "lib/base/version.h"
#include "lib/runtime/hf_model_source.h"
#include "lib/runtime/thread_waits.h"
#include "quant/quantize_model.h"

using namespace mp;

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  int threads = 2, layers = 2;
  QuantizePlan plan;
  plan.calibration.samples = 16;
  plan.calibration.seqlen = 512;
  plan.grid.group_size = 128;
  std::string method = "gptq";
  std::string shared = bench::fs::path(mp::source_dir()).parent_path().string() + "/shared";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--layers")) layers = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--nsamples")) plan.calibration.samples = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seqlen")) plan.calibration.seqlen = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--method")) method = argv[i + 1];
    else if (!std::strcmp(argv[i], "--shared")) shared = argv[i + 1];
  }
  plan.method = method == "rtn" ? QuantMethod::rtn : QuantMethod::gptq;
  at::set_num_threads(threads);
  const bench::fs::path dir = bench::synthetic_llama7b(layers, shared);
  plan.calibration.file = shared + "/corpora/tinystories/calib.txt";

  bench::reset_peak_rss();
  HfModelSource source(dir.string());
  const auto& c = source.config();
  const double model_gib = bench::fs::file_size(dir / "model.safetensors") / double(1 << 30);
  const double layer_gib = (4.0 * c.hidden_size * c.hidden_size + 3.0 * c.hidden_size * c.intermediate_size) * 4 / double(1 << 30);
  const double activations_gib = double(plan.calibration.samples) * plan.calibration.seqlen * c.hidden_size * 4 / double(1 << 30);
  const int64_t widest_input = std::max(c.hidden_size, c.intermediate_size);
  const double hessian_gib = double(widest_input) * widest_input * 4 / double(1 << 30);
  // Per process: the output is staged under a fixed name beside it, which concurrent runs would share.
  const std::string out =
      (bench::fs::temp_directory_path() / ("modelpress-bench-quantized-" + std::to_string(::getpid()))).string();
  GptqCheckpointSink sink(out, c, plan);
  const auto t0 = std::chrono::steady_clock::now();
  QuantizeReport report = quantize_model(source, plan, RuntimeOptions{}, sink);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("bench_quantize: %s, %d threads, %d layers of Llama-7B shape, %lld x %lld calibration tokens\n",
              method.c_str(), threads, layers, static_cast<long long>(plan.calibration.samples),
              static_cast<long long>(plan.calibration.seqlen));
  std::printf("  %.1f s total, %.1f s per decoder layer\n", seconds, seconds / layers);
  // The budget of docs/quantization.md ("Memory"): the layer's source pages and its quantized
  // copy, the calibration states in and out of the layer, and the widest Hessian with the two
  // matrices GPTQ factors it into.
  const double hessian_copies = plan.method == QuantMethod::gptq ? 3 : 1;
  const double budget_gib = 2 * layer_gib + 2 * activations_gib + hessian_copies * hessian_gib;
  std::printf("  peak RSS %.2f GiB | whole model %.2f GiB, one decoder layer %.2f GiB, calibration activations "
              "%.2f GiB, largest Hessian %.2f GiB; budget %.2f GiB\n",
              bench::peak_rss_mib() / 1024, model_gib, layer_gib, activations_gib, hessian_gib, budget_gib);
  bench::fs::remove_all(out);
  return report.linears.empty() ? 1 : 0;
}
