// A synthetic Llama-7B-shaped GGUF (hidden 4096, MLP 11008, 32 heads, vocab 32000, untied) of any
// file type, written at disk speed: no f32 model is made or quantized. Each tensor is a pool of 64
// rows of N(0, 0.02) weights (norms: ones) encoded with the real codec, so every block is valid and
// of a trained model's magnitude, and its rows are drawn from that pool at random. The metadata and
// tensor types are the exporter's own plan (the llama keys, Llama 2's 32000-piece SentencePiece
// vocabulary from ../shared, the type mix's per-tensor choices), so llama.cpp and `modelpress eval`
// read the file as they read an exported one. For memory and speed measurements at full size
// (bench/eval_7b_memory.sh); the model's outputs mean nothing.
//   write_synthetic_gguf OUT.gguf [--type T] [--layers L] [--shared DIR] [--seed S]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "bench/synthetic_model.h"
#include "formats/gguf_codecs.h"
#include "formats/gguf_export_layout.h"
#include "formats/gguf_writer.h"
#include "lib/base/error.h"
#include "lib/base/version.h"

namespace fs = std::filesystem;
using namespace mp;

namespace {

// The exporter plans from a source's config, tokenizer and tensor names; this one has no values.
class ShapeOnlySource : public ModelSource {
 public:
  explicit ShapeOnlySource(const fs::path& dir) : dir_(dir.string()), config_(ModelConfig::load(dir_)) {}
  const ModelConfig& config() const override { return config_; }
  bool has(const std::string&) const override { return true; }
  at::Tensor tensor(const std::string& name) const override {
    fail_runtime("synthetic GGUF: tensor '" + name + "' has no values to read");
  }
  Tokenizer tokenizer() const override { return Tokenizer::open(dir_); }
  const std::string& path() const override { return dir_; }

 private:
  std::string dir_;
  ModelConfig config_;
};

constexpr int64_t kPoolRows = 64;

// The tensor's bytes: pooled encoded rows in random order.
std::vector<uint8_t> random_blocks(const PlannedTensor& t, std::mt19937_64& rng) {
  const int64_t cols = t.shape.back(), rows = t.numel() / cols;
  const uint64_t row_bytes = ggml_row_bytes(t.type.used, cols);
  const int64_t pool_rows = std::min(rows, kPoolRows);
  const at::Tensor values = t.shape.size() == 1 ? at::ones({pool_rows, cols}) : at::randn({pool_rows, cols}) * 0.02;
  std::vector<uint8_t> pool(pool_rows * row_bytes), out(rows * row_bytes);
  for (int64_t r = 0; r < pool_rows; ++r)
    quantize_row(t.type.used, values[r].data_ptr<float>(), pool.data() + r * row_bytes, cols);
  std::uniform_int_distribution<int64_t> pick(0, pool_rows - 1);
  for (int64_t r = 0; r < rows; ++r) std::memcpy(out.data() + r * row_bytes, pool.data() + pick(rng) * row_bytes, row_bytes);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out, type = "Q4_K_M", shared = fs::path(mp::source_dir()).parent_path().string() + "/shared";
  int layers = 32;
  uint64_t seed = 0;
  bool usage_error = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--type") && i + 1 < argc) type = argv[++i];
    else if (!std::strcmp(argv[i], "--layers") && i + 1 < argc) layers = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--shared") && i + 1 < argc) shared = argv[++i];
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (argv[i][0] != '-' && out.empty()) out = argv[i];
    else usage_error = true;
  }
  if (usage_error || out.empty() || layers < 1) {
    std::fprintf(stderr, "usage: write_synthetic_gguf OUT.gguf [--type T] [--layers L] [--shared DIR] [--seed S]\n");
    return static_cast<int>(ExitCode::usage);
  }
  try {
    const auto start = std::chrono::steady_clock::now();
    // config.json and tokenizer.model only: what the exporter's plan reads.
    const fs::path dir = fs::temp_directory_path() / ("modelpress-synthetic-gguf-" + std::to_string(layers));
    fs::create_directories(dir);
    write_file_atomically((dir / "config.json").string(), bench::llama7b_config(layers).dump(2));
    bench::copy_llama2_tokenizer(dir, shared);
    const ShapeOnlySource source(dir);
    GgufExportOptions options;
    options.type = parse_gguf_export_type(type, false);
    options.name = "synthetic-llama7b-" + std::to_string(layers) + "L";
    options.provenance_keys = false;
    const GgufExportLayout layout = plan_gguf_export(source, options, {});

    at::manual_seed(seed);
    std::mt19937_64 rng(seed);
    GgufWriter writer(out);
    for (const auto& [key, value] : layout.metadata) writer.add_metadata(key, value);
    for (const PlannedTensor& t : layout.tensors) writer.add_tensor(t.name.gguf, t.shape, t.type.used);
    for (const PlannedTensor& t : layout.tensors) {
      if (layout.generated.count(t.name.gguf)) writer.write_tensor(at::tensor(layout.generated.at(t.name.gguf)));
      else {
        const std::vector<uint8_t> bytes = random_blocks(t, rng);
        writer.write_tensor_bytes(bytes.data(), bytes.size());
      }
    }
    writer.commit();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mib = static_cast<double>(layout.file_bytes()) / (1024.0 * 1024.0);
    std::printf("%s: %s, %d layers, %zu tensors, %lld parameters, %.1f MiB in %.1f s (%.0f MiB/s)\n", out.c_str(),
                type.c_str(), layers, layout.tensors.size(), static_cast<long long>(layout.parameters), mib, seconds,
                mib / seconds);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return static_cast<int>(e.code());
  }
}
