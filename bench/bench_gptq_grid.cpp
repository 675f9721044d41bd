// Seconds per Llama-7B-shaped decoder layer (bench/synthetic_model.h: hidden 4096, FFN 11008, 32
// heads) on three ways to a GGUF of a type mix (default Q4_K_M):
//   - GPTQ inside the grids (quantize --method gptq --to gguf): each linear solved on the ggml block
//     type the mix gives it (formats/gguf_block_grid.h), its blocks then packed;
//   - plain GPTQ w4g128 (quantize --method gptq's defaults: asymmetric, min-max range), the grid of
//     an HF GPTQ checkpoint;
//   - export alone (export --to gguf --type T): the type's encoder on every row, no calibration.
// Both GPTQ rows share the calibration: the Hessians of the layer's four inputs (q/k/v, o, gate/up:
// 4096 features; down: 11008) over S × 2048 synthetic tokens (bench/synthetic_calibration.h), and
// their factorizations. Weights are random (N(0, 0.02²)); timing does not depend on their values.
//
//   bench_gptq_grid [--threads N] [--sequences S] [--type T] [--layer I]
//
// --layer picks which of the 32 layers' mix types to use (the Q4_K_M mix gives attn_v and ffn_down
// q6_K in 11 of them; the default, 4, is all q4_K).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "bench/synthetic_calibration.h"
#include "bench/synthetic_model.h"
#include "formats/gguf_block_grid.h"
#include "formats/gguf_codecs.h"
#include "formats/gguf_sink.h"
#include "formats/hf_config.h"
#include "lib/runtime/thread_waits.h"
#include "quant/affine_grid.h"
#include "quant/gptq.h"

namespace {

using mp::bench::seconds_since;
using Clock = std::chrono::steady_clock;

constexpr int64_t kSequence = 2048;

struct Linear {
  const char* module;  // under model.layers.I.
  int64_t out, in;
  int input;           // which of the layer's inputs it reads
};

// What export does with one tensor: the type's encoder on every row, rows spread over the threads
// as GgufWriter::write_tensor spreads them.
double encode_seconds(mp::GgmlType type, const at::Tensor& w) {
  const int64_t rows = w.size(0), n = w.size(1);
  const uint64_t row_bytes = mp::ggml_row_bytes(type, n);
  std::vector<uint8_t> out(row_bytes * rows);
  const float* x = w.data_ptr<float>();
  const auto start = Clock::now();
  at::parallel_for(0, rows, std::max<int64_t>(1, (int64_t{1} << 16) / n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) mp::quantize_row(type, x + r * n, out.data() + r * row_bytes, n);
  });
  return seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  int threads = 2, layer = 4;
  int64_t sequences = 8;
  std::string type = "Q4_K_M";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--sequences")) sequences = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--type")) type = argv[i + 1];
    else if (!std::strcmp(argv[i], "--layer")) layer = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--sequences S] [--type T] [--layer I]\n", argv[0]);
      return 2;
    }
  }
  at::set_num_threads(threads);
  at::manual_seed(0);
  const mp::bench::SgemmRate sgemm = mp::bench::sgemm_rate(2048);
  std::printf("bench_gptq_grid: %d threads, sgemm 2048^3 %.1f GFLOP/s; %s, layer %d of a 32-layer Llama-7B shape, "
              "%lld x %lld synthetic calibration tokens\n",
              at::get_num_threads(), sgemm.per_wall_second, type.c_str(), layer, static_cast<long long>(sequences),
              static_cast<long long>(kSequence));

  const mp::ModelConfig config = mp::ModelConfig::from_json(mp::bench::llama7b_config(32), "Llama-7B shape");
  mp::GgufExportOptions gguf;
  gguf.type = mp::parse_gguf_export_type(type, false);
  const auto block_grids = mp::gguf_module_grids(config, gguf);
  const int64_t h = config.hidden_size, f = config.intermediate_size;
  const Linear linears[] = {{"self_attn.q_proj", h, h, 0}, {"self_attn.k_proj", h, h, 0}, {"self_attn.v_proj", h, h, 0},
                            {"self_attn.o_proj", h, h, 1}, {"mlp.gate_proj", f, h, 2},    {"mlp.up_proj", f, h, 2},
                            {"mlp.down_proj", h, f, 3}};
  const int64_t input_features[] = {h, h, h, f};

  double calibration_s = 0, factor_s = 0, grid_s = 0, plain_s = 0, export_s = 0;
  const auto affine = std::make_shared<mp::AffineGrid>(mp::AffineGridOptions{});
  mp::GptqOptions grid_options;
  grid_options.hessian_importance = true;  // as quantize --to gguf
  for (int input = 0; input < 4; ++input) {
    const int64_t n = input_features[input];
    const mp::bench::SyntheticHessian hessian = mp::bench::accumulate_synthetic_hessian(n, sequences, kSequence);
    calibration_s += hessian.accumulate_s;
    auto start = Clock::now();
    const mp::GptqHessian factored = mp::prepare_gptq_hessian(hessian.h);
    const double factor = seconds_since(start);
    factor_s += factor;
    std::printf("input %d (%lld features): Hessian %.1f s (+ %.1f s generating inputs), factorization %.1f s\n", input,
                static_cast<long long>(n), hessian.accumulate_s, hessian.generate_s, factor);
    for (const Linear& linear : linears) {
      if (linear.input != input) continue;
      const std::string module = "model.layers." + std::to_string(layer) + "." + linear.module;
      const auto grid = block_grids(module);
      if (!grid) {
        std::printf("  %s: the %s mix gives it a type without a block grid\n", linear.module, type.c_str());
        return 1;
      }
      const auto ggml_type = dynamic_cast<const mp::GgufBlockGrid&>(*grid).type();
      const at::Tensor w = at::randn({linear.out, linear.in}) * 0.02;
      start = Clock::now();
      const mp::GptqResult in_grid = mp::quantize_gptq(w, factored, grid, grid_options);
      const std::vector<uint8_t> blocks = mp::pack_block_grid_tensor(in_grid.layer);
      const double grid_linear = seconds_since(start);
      start = Clock::now();
      mp::quantize_gptq(w, factored, affine);
      const double plain_linear = seconds_since(start);
      const double export_linear = encode_seconds(ggml_type, w.contiguous());
      std::printf("  %-16s %5lldx%-5lld %-6s GPTQ-in-grid %6.1f s, GPTQ w4g128 %6.1f s, export %5.2f s\n",
                  linear.module, static_cast<long long>(linear.out), static_cast<long long>(linear.in),
                  mp::ggml_type_name(ggml_type), grid_linear, plain_linear, export_linear);
      grid_s += grid_linear;
      plain_s += plain_linear;
      export_s += export_linear;
    }
    std::fflush(stdout);
  }
  std::printf("\nseconds per layer (%s, %lld x %lld tokens, %d threads):\n", type.c_str(),
              static_cast<long long>(sequences), static_cast<long long>(kSequence), at::get_num_threads());
  std::printf("| way | Hessians | factorizations | solves / encoding | total |\n|---|---|---|---|---|\n");
  std::printf("| GPTQ-in-grid %s | %.1f | %.1f | %.1f | %.1f |\n", type.c_str(), calibration_s, factor_s, grid_s,
              calibration_s + factor_s + grid_s);
  std::printf("| GPTQ w4g128 | %.1f | %.1f | %.1f | %.1f |\n", calibration_s, factor_s, plain_s,
              calibration_s + factor_s + plain_s);
  std::printf("| export %s | - | - | %.2f | %.2f |\n", type.c_str(), export_s, export_s);
  std::printf("peak RSS %.0f MB\n", mp::bench::peak_rss_mb());
  return 0;
}
