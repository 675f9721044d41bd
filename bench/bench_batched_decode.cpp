// Batched decoding speed of the path `generate --prompts --batch-size B` takes (generate_batch over
// KeptLayers), measured as llama-batched-bench measures it: B prompts of P random tokens each are
// prefilled, then G decoding steps each run one token of every sequence; tokens/s of the decoding
// steps (B·G / their seconds) and of the prefill, for each batch size. Greedy, no end token.
//   bench_batched_decode MODEL [--prompt-tokens P] [--gen-tokens G] [--batches 1,16] [--threads N]
//                        [--dtype f32|bf16] [--seed S]
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>

#include "bench/synthetic_model.h"
#include "lib/runtime/batch_generate.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/thread_waits.h"

using namespace mp;

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: bench_batched_decode MODEL [--prompt-tokens P] [--gen-tokens G] [--batches 1,16] "
                         "[--threads N] [--dtype f32|bf16] [--seed S]\n");
    return static_cast<int>(ExitCode::usage);
  }
  RuntimeSettings settings;
  settings.threads = 2;
  settings.quiet = true;
  int64_t prompt_tokens = 128, gen_tokens = 128;
  std::string batches = "1,16";
  uint64_t seed = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--prompt-tokens")) prompt_tokens = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--gen-tokens")) gen_tokens = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batches")) batches = argv[i + 1];
    else if (!std::strcmp(argv[i], "--threads")) settings.threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dtype")) settings.dtype = argv[i + 1];
    else if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10);
  }
  try {
    LlamaModel model(open_model(argv[1]), apply_runtime_settings(settings));
    KeptLayers layers(model);  // as generate --prompts holds them, before its first batch
    SamplingOptions options;   // greedy
    options.stop_at_eos = false;
    options.max_new_tokens = gen_tokens + 1;  // the first token comes from the prefill's logits
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int32_t> token(3, static_cast<int32_t>(model.config().vocab_size) - 1);
    std::printf("%s: %s, %d threads, prompts of %lld tokens, %lld decoding steps\n", argv[1], settings.dtype.c_str(),
                at::get_num_threads(), static_cast<long long>(prompt_tokens), static_cast<long long>(gen_tokens));
    std::printf("| batch | prefill tokens/s | decode tokens/s | decode ms/step | peak RSS MiB |\n");
    std::printf("| --- | --- | --- | --- | --- |\n");
    std::stringstream list(batches);
    for (std::string item; std::getline(list, item, ',');) {
      const int64_t batch = std::atoll(item.c_str());
      std::vector<std::vector<int32_t>> prompts(batch, std::vector<int32_t>(prompt_tokens));
      for (auto& p : prompts)
        for (int32_t& t : p) t = token(rng);
      BatchTimes times;
      generate_batch(layers, prompts, options, std::vector<uint64_t>(batch, seed), &times);
      std::printf("| %lld | %.1f | %.1f | %.1f | %.0f |\n", static_cast<long long>(batch),
                  batch * prompt_tokens / times.prefill_seconds, times.decoded_tokens / times.decode_seconds,
                  1e3 * times.decode_seconds / times.decode_steps, bench::peak_rss_mib());
      std::fflush(stdout);
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return static_cast<int>(e.code());
  }
}
