// GPTQ on Llama-7B-shaped layers: the cost of accumulating the Hessian over 128 × 2048 calibration
// tokens and of the GPTQ factorization and solve, each against its flop count at the sgemm rate
// measured in the same process.
//
//   bench_gptq [--threads N] [--quick] [--act-order] [--square-only] [--sha256]
//
// --quick uses 8 × 2048 tokens instead of 128 × 2048; --square-only skips the 11008×4096 layer;
// --sha256 prints the SHA-256 of each solve's codes, scales, zeros and g_idx, so that two builds
// can be checked to give the same bytes (bench/gptq_same_bytes.sh). Inputs are synthetic
// (bench/synthetic_calibration.h).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/bench_support.h"
#include "bench/synthetic_calibration.h"
#include "lib/base/sha256.h"
#include "lib/runtime/thread_waits.h"
#include "quant/affine_grid.h"
#include "quant/gptq.h"
#include "quant/rtn.h"

namespace {

constexpr int64_t kHidden = 4096, kIntermediate = 11008, kSequence = 2048;

using mp::bench::peak_rss_mb;
using mp::bench::seconds_since;

using HessianTiming = mp::bench::SyntheticHessian;

// ‖(W − Ŵ)xᵀ‖² / ‖Wxᵀ‖² on a batch of calibration inputs.
double relative_output_error(const at::Tensor& w, const mp::QuantizedLinear& layer,
                             const at::Tensor& x) {
  return at::matmul(x, (w - layer.dequantize()).t()).square().sum().item<double>() /
         at::matmul(x, w.t()).square().sum().item<double>();
}

std::string tensor_sha256(const at::Tensor& t) {
  const at::Tensor bytes = t.contiguous();
  mp::Sha256 hash;
  hash.update(bytes.data_ptr(), bytes.nbytes());
  return hash.hex_digest();
}

// The factorization H + λI → L → (LLᵀ)⁻¹ → U costs n³/3 + 2n³/3 + n³/3 flops; the solve spreads
// every column's error to every later column of every row, n²·out flops, as matrix products of the
// lazy batches plus matrix-vector products inside each batch. The bound is those flops at the sgemm
// rate measured in this process; the ratio says how far from it each part runs.
void bench_solve(int64_t out, const HessianTiming& hessian, bool act_order, bool print_sha256,
                 const mp::bench::SgemmRate& sgemm) {
  mp::AffineGridOptions grid;  // 4 bits, group 128, asymmetric: the common GPTQ setting
  mp::GptqOptions options;
  options.act_order = act_order;
  const at::Tensor w = at::randn({out, kHidden}) * 0.02;
  const auto affine = std::make_shared<mp::AffineGrid>(grid);
  auto start = std::chrono::steady_clock::now();
  double cpu_start = mp::bench::process_cpu_seconds();
  const mp::GptqHessian factored = mp::prepare_gptq_hessian(hessian.h, options);
  const double factor_s = seconds_since(start), factor_cpu = mp::bench::process_cpu_seconds() - cpu_start;
  start = std::chrono::steady_clock::now();
  cpu_start = mp::bench::process_cpu_seconds();
  const mp::GptqResult result = mp::quantize_gptq(w, factored, affine, options);
  const double solve_s = seconds_since(start), solve_cpu = mp::bench::process_cpu_seconds() - cpu_start;

  const double n = static_cast<double>(kHidden);
  const double factor_gflop = 4 * n * n * n / 3 / 1e9, solve_gflop = n * n * static_cast<double>(out) / 1e9;
  auto part = [&](const char* name, double seconds, double cpu, double gflop) {
    std::printf("  %-13s %6.2f s (bound %5.2f s, x%.2f)  %6.2f CPU s (bound %5.2f, x%.2f)\n", name, seconds,
                gflop / sgemm.per_wall_second, seconds * sgemm.per_wall_second / gflop, cpu,
                gflop / sgemm.per_cpu_second, cpu * sgemm.per_cpu_second / gflop);
  };
  std::printf("gptq %lldx%lld 4-bit group 128%s: damp %.3g, loss %.4g, relative output error %.3g (RTN %.3g)\n",
              static_cast<long long>(out), static_cast<long long>(kHidden), act_order ? " act-order" : "",
              result.damp_used, result.loss, relative_output_error(w, result.layer, hessian.last_batch),
              relative_output_error(w, mp::quantize_rtn(w, affine), hessian.last_batch));
  part("factorization", factor_s, factor_cpu, factor_gflop);
  part("solve", solve_s, solve_cpu, solve_gflop);
  part("both", factor_s + solve_s, factor_cpu + solve_cpu, factor_gflop + solve_gflop);
  if (print_sha256) {
    const mp::QuantizedLinear& layer = result.layer;
    std::printf("  sha256 codes %s\n  sha256 scales %s\n  sha256 zeros %s\n  sha256 g_idx %s\n",
                tensor_sha256(layer.codes).c_str(), tensor_sha256(layer.scales).c_str(),
                tensor_sha256(layer.zeros).c_str(), tensor_sha256(layer.g_idx).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  int threads = 2;
  bool quick = false, act_order = false, square_only = false, print_sha256 = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::stoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else if (!std::strcmp(argv[i], "--act-order")) {
      act_order = true;
    } else if (!std::strcmp(argv[i], "--square-only")) {
      square_only = true;
    } else if (!std::strcmp(argv[i], "--sha256")) {
      print_sha256 = true;
    } else {
      std::fprintf(stderr, "usage: %s [--threads N] [--quick] [--act-order] [--square-only] [--sha256]\n", argv[0]);
      return 2;
    }
  }
  at::set_num_threads(threads);
  at::manual_seed(0);
  std::printf("threads %d\n", at::get_num_threads());
  const mp::bench::SgemmRate sgemm = mp::bench::sgemm_rate(2048);
  std::printf("sgemm 2048^3: %.1f GFLOP/s, %.1f GFLOP per CPU second\n", sgemm.per_wall_second, sgemm.per_cpu_second);

  const int64_t sequences = quick ? 8 : 128;
  const HessianTiming hessian = mp::bench::accumulate_synthetic_hessian(kHidden, sequences, kSequence);
  const double tokens = static_cast<double>(sequences * kSequence);
  std::printf(
      "hessian %lld features, %lld x %lld tokens: accumulate %.2f s (%.1f GFLOP/s), "
      "input generation %.2f s\n",
      static_cast<long long>(kHidden), static_cast<long long>(sequences),
      static_cast<long long>(kSequence), hessian.accumulate_s,
      2.0 * tokens * kHidden * kHidden / hessian.accumulate_s / 1e9, hessian.generate_s);

  // Both layer shapes read the same 4096-wide inputs, so they share one Hessian.
  bench_solve(kHidden, hessian, act_order, print_sha256, sgemm);
  if (!square_only) bench_solve(kIntermediate, hessian, act_order, print_sha256, sgemm);
  std::printf("peak RSS %.0f MB\n", peak_rss_mb());
  return 0;
}
