// AWQ on one Llama-7B-shaped decoder layer (hidden 4096, intermediate 11008, 32 heads of 128):
// the time of the scale search of each scaling group and of the clipping search, next to a plain
// sgemm in the same process (compare with bench_gptq, which times GPTQ on the same shapes).
//
//   bench_awq [--threads N] [--sequences S] [--seqlen T] [--grid G]
//
// Defaults: 2 × 512 tokens (AutoAWQ calibrates on 128 × 512; the scale search costs grid × one
// block forward over all of them, so its time grows linearly with the token count; the clipping
// search uses a fixed 512-token sample). Weights are random, inputs synthetic with a few
// outlier channels, as real activations have.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "bench/bench_support.h"
#include "lib/runtime/thread_waits.h"
#include "quant/affine_grid.h"
#include "quant/awq.h"

namespace {

using mp::bench::peak_rss_mb;
using mp::bench::seconds_since;
using mp::bench::sgemm_gflops;

mp::ModelConfig llama7b_config() {
  mp::ModelConfig c;
  c.hidden_size = 4096;
  c.intermediate_size = 11008;
  c.num_heads = c.num_kv_heads = 32;
  c.head_dim = 128;
  c.num_layers = 1;
  c.max_position_embeddings = 4096;
  c.rope_theta = 10000;
  c.rms_norm_eps = 1e-5;
  return c;
}

at::Tensor activations(int64_t sequences, int64_t seqlen, int64_t features) {
  at::Tensor x = at::randn({sequences, seqlen, features});
  x.narrow(2, 0, features / 100).mul_(20);  // 1% salient channels
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  int threads = 2;
  int64_t sequences = 2, seqlen = 512;
  int grid_points = 20;
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return std::stoll(argv[++i]); };
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = static_cast<int>(next());
    else if (!std::strcmp(argv[i], "--sequences") && i + 1 < argc) sequences = next();
    else if (!std::strcmp(argv[i], "--seqlen") && i + 1 < argc) seqlen = next();
    else if (!std::strcmp(argv[i], "--grid") && i + 1 < argc) grid_points = static_cast<int>(next());
    else {
      std::fprintf(stderr, "usage: %s [--threads N] [--sequences S] [--seqlen T] [--grid G]\n", argv[0]);
      return 2;
    }
  }
  at::set_num_threads(threads);
  at::manual_seed(0);
  std::printf("threads %d\n", at::get_num_threads());
  std::printf("sgemm 2048^3: %.1f GFLOP/s\n", sgemm_gflops(2048));

  const mp::ModelConfig config = llama7b_config();
  const int64_t h = config.hidden_size, f = config.intermediate_size;
  mp::DecoderLayerWeights w;
  w.input_norm = at::ones({h});
  w.post_attention_norm = at::ones({h});
  for (auto* t : {&w.q, &w.k, &w.v, &w.o}) *t = at::randn({h, h}) * 0.02;
  w.gate = at::randn({f, h}) * 0.02;
  w.up = at::randn({f, h}) * 0.02;
  w.down = at::randn({h, f}) * 0.02;
  std::map<std::string, at::Tensor> inputs = {{"attn_in", activations(sequences, seqlen, h)},
                                              {"o_in", activations(sequences, seqlen, h)},
                                              {"mlp_in", activations(sequences, seqlen, h)},
                                              {"down_in", activations(sequences, seqlen, f)}};
  mp::AffineGridOptions grid_options;  // 4 bits, group 128: AutoAWQ's default
  grid_options.sym = false;
  const auto grid = std::make_shared<mp::AffineGrid>(grid_options);
  auto grid_for = [&](const std::string&) { return grid; };
  mp::RotaryEmbedding rope(config);
  mp::AwqScaleOptions scale_options;
  scale_options.grid = grid_points;
  std::printf("awq layer 4096/11008, %lld x %lld tokens, %d-point alpha grid, 4-bit group 128\n",
              static_cast<long long>(sequences), static_cast<long long>(seqlen), grid_points);

  double total = 0;
  for (const mp::ScalingGroup& group : mp::awq_scaling_groups(config)) {
    at::Tensor& x = inputs.at(group.input);
    const auto start = std::chrono::steady_clock::now();
    const mp::ScaleChoice choice = mp::search_scales(config, w, rope, group, x, grid_for, scale_options);
    mp::fold_scales(config, w, group, choice.scales);
    x = mp::scaled_inputs(config, group, x, choice.scales);
    const double s = seconds_since(start);
    total += s;
    std::printf("  scale search %-9s %.2f s  alpha %.2f  loss %.3g (alpha 0: %.3g)\n", group.name, s, choice.alpha,
                choice.loss, choice.loss_at_zero);
  }
  for (const mp::ScalingGroup& group : mp::awq_scaling_groups(config))
    for (const auto& suffix : group.linears) {
      if (!mp::awq_clips(suffix)) continue;
      const auto start = std::chrono::steady_clock::now();
      w.linear(suffix) = mp::clip_weights(w.linear(suffix), inputs.at(group.input), *grid, {});
      const double s = seconds_since(start);
      total += s;
      std::printf("  clip search  %-18s %.2f s\n", suffix.c_str(), s);
    }
  std::printf("awq total per layer %.1f s (x32 layers for Llama-7B: %.0f s)\n", total, 32 * total);
  std::printf("peak RSS %.0f MB\n", peak_rss_mb());
  return 0;
}
