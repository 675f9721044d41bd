// The runtime streams decoder layers: evaluating a quantized GGUF holds the file (mapped) plus one
// layer in f32, never the whole model in f32. Checked on the process's own peak resident memory
// while a 16-layer Q4_0 model, whose f32 form is ~7x its file, is evaluated.
#include <malloc.h>

#include <filesystem>

#include "formats/gguf_export.h"
#include "lib/base/memory_usage.h"
#include "lib/base/sanitizers.h"
#include "lib/eval/perplexity.h"
#include "lib/runtime/llama_model.h"
#include "tests/test_support.h"

// Resident memory measures glibc's allocator here: AddressSanitizer's keeps freed blocks in quarantine
// and serves later ones from their resident pages, so a whole-model copy no longer shows in the peak.
#ifndef MODELPRESS_ASAN
using namespace mp;

namespace {

std::string write_gguf(const test::ScratchDir& dir, const std::string& name, nlohmann::json config) {
  const std::string hf = dir.path(name);
  test::write_random_model(hf, config, 7);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), hf + "/tokenizer.model");
  GgufExportOptions options;
  options.type = parse_gguf_export_type("Q4_0", false);
  const std::string gguf = dir.path(name + ".gguf");
  export_gguf(*open_model(hf), gguf, options);
  std::filesystem::remove_all(hf);
  return gguf;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab) {
  at::manual_seed(3);
  const at::Tensor t = at::randint(3, vocab, {n}, at::kInt);
  return std::vector<int32_t>(t.data_ptr<int32_t>(), t.data_ptr<int32_t>() + n);
}

}  // namespace

TEST_CASE("eval of a Q4_0 GGUF holds the file plus one f32 layer, not the model in f32", "[streaming]") {
  test::ScratchDir dir;
  nlohmann::json config = test::tiny_config();
  PerplexityOptions options;
  options.ctx = 16;
  options.chunks_per_batch = 2;
  const std::vector<int32_t> tokens = random_tokens(4 * options.ctx, config["vocab_size"]);
  {
    // Thread pools and first-use allocations of the runtime, outside the measurement.
    LlamaModel warm(open_model(write_gguf(dir, "tiny", config)), RuntimeOptions{});
    evaluate_perplexity(warm, tokens, options);
  }
  config["hidden_size"] = 512;
  config["intermediate_size"] = 2048;
  config["num_attention_heads"] = 8;
  config["num_key_value_heads"] = 8;
  config["num_hidden_layers"] = 16;
  const std::string gguf = write_gguf(dir, "big", config);
  const int64_t file_bytes = static_cast<int64_t>(std::filesystem::file_size(gguf));
  const int64_t layer_f32_bytes = 4 * (4 * 512 * 512 + 3 * 512 * 2048 + 2 * 512);
  const int64_t model_f32_bytes = 16 * layer_f32_bytes;
  // One layer in f32 at a time, plus a second for the transient copies of a tensor being decoded.
  const int64_t bound = file_bytes + 2 * layer_f32_bytes + (24 << 20);
  REQUIRE(bound < model_f32_bytes / 2);  // the bound tells streaming from a whole f32 copy

  // Freed heap memory (writing the model) goes back to the system, so the runtime cannot reuse it
  // unseen.
  malloc_trim(0);
  reset_peak_resident();
  const int64_t before = resident_bytes();
  LlamaModel model(open_model(gguf), RuntimeOptions{});
  const PerplexityReport report = evaluate_perplexity(model, tokens, options);
  const int64_t streamed = peak_resident_bytes() - before;
  INFO("file " << file_bytes << " B, one f32 layer " << layer_f32_bytes << " B, peak growth " << streamed << " B");
  CHECK(std::isfinite(report.ppl));
  CHECK(streamed < bound);

  // The same measurement sees a whole-model f32 copy: what the runtime held before it streamed.
  std::vector<DecoderLayerWeights> all_layers;
  for (int64_t i = 0; i < 16; ++i) all_layers.push_back(model.load_layer(i));
  CHECK(peak_resident_bytes() - before > model_f32_bytes);
}
#endif
