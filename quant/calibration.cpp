#include "quant/calibration.h"

#include <filesystem>
#include <random>

#include "lib/base/error.h"
#include "lib/runtime/runtime.h"
#include "lib/base/version.h"

namespace mp {

std::string default_calibration_file() {
  if (const char* env = std::getenv("MODELPRESS_DATA")) return std::string(env) + "/moby-dick.txt";
  return std::string(source_dir()) + "/.cache/data/moby-dick.txt";
}

int64_t calibration_seqlen(int64_t requested, int64_t context) {
  if (requested <= 0) return std::min<int64_t>(2048, context);
  if (requested > context)
    fail_input("--seqlen", std::to_string(requested) + " exceeds the model's max_position_embeddings (" +
                               std::to_string(context) + ")");
  return requested;
}

at::Tensor sample_calibration(const Tokenizer& tokenizer, const CalibrationOptions& options) {
  const std::string file = options.file.empty() ? default_calibration_file() : options.file;
  if (options.file.empty() && !std::filesystem::exists(file))
    fail_input(file, "the built-in calibration corpus is missing; run scripts/fetch-data.sh or pass --calib FILE");
  if (options.samples < 1) fail_input("--nsamples", "must be at least 1");
  if (options.seqlen < 2) fail_input("--seqlen", "must be at least 2");
  const std::vector<int32_t> tokens = tokenizer.encode(read_text_file(file), /*add_special=*/false);
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (n < options.seqlen)
    fail_input(file, "has " + std::to_string(n) + " tokens, fewer than one calibration sample of " +
                         std::to_string(options.seqlen));
  std::mt19937_64 rng(options.seed);
  // Windows start at i in [0, n - seqlen], each drawn independently (overlaps allowed, as in GPTQ).
  std::uniform_int_distribution<int64_t> start(0, n - options.seqlen);
  at::Tensor out = at::empty({options.samples, options.seqlen}, at::kLong);
  auto a = out.accessor<int64_t, 2>();
  for (int64_t s = 0; s < options.samples; ++s) {
    const int64_t i = start(rng);
    for (int64_t t = 0; t < options.seqlen; ++t) a[s][t] = tokens[i + t];
    if (tokenizer.adds_bos()) a[s][0] = tokenizer.bos_id();
  }
  return out;
}

}  // namespace mp
