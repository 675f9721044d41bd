// Eval throughput (tokens/s of the forward pass) and peak RSS, f32 and bf16 compute, for the
// stories260K reference model and for a synthetic model with Llama-7B layer shapes.
//   bench_eval [--threads N] [--layers L] [--tokens T] [--shared DIR]
#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "formats/safetensors.h"
#include "lib/atomic_output.h"
#include "lib/llama_model.h"

namespace fs = std::filesystem;
using namespace mp;

namespace {

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

// Llama-7B shapes (hidden 4096, MLP 11008, 32 heads, vocab 32000) with `layers` decoder layers.
std::string write_synthetic_llama7b(const fs::path& dir, int layers) {
  fs::create_directories(dir);
  const int64_t h = 4096, f = 11008, v = 32000;
  nlohmann::json config = {{"model_type", "llama"}, {"hidden_size", h}, {"intermediate_size", f},
                           {"num_hidden_layers", layers}, {"num_attention_heads", 32},
                           {"num_key_value_heads", 32}, {"vocab_size", v}, {"max_position_embeddings", 4096},
                           {"rms_norm_eps", 1e-5}, {"tie_word_embeddings", false}};
  write_file_atomically((dir / "config.json").string(), config.dump(2));
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {{"model.embed_tokens.weight", {v, h}}};
  for (int i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    for (const char* n : {"input_layernorm.weight", "post_attention_layernorm.weight"}) shapes.push_back({p + n, {h}});
    for (const char* n : {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight"})
      shapes.push_back({p + n, {h, h}});
    shapes.push_back({p + "mlp.gate_proj.weight", {f, h}});
    shapes.push_back({p + "mlp.up_proj.weight", {f, h}});
    shapes.push_back({p + "mlp.down_proj.weight", {h, f}});
  }
  shapes.push_back({"model.norm.weight", {h}});
  shapes.push_back({"lm_head.weight", {v, h}});
  std::vector<TensorInfo> layout;
  for (const auto& [name, shape] : shapes) {
    TensorInfo t;
    t.name = name;
    t.dtype = DType::F32;
    t.shape = shape;
    layout.push_back(t);
  }
  SafetensorsWriter writer((dir / "model.safetensors").string(), layout);
  for (const auto& [name, shape] : shapes)
    writer.write(shape.size() == 1 ? at::ones(shape) : at::randn(shape) * 0.02);
  writer.commit();
  return dir.string();
}

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
  int threads = 2, layers = 2;
  int64_t tokens = 256;
  std::string shared = fs::path(MODELPRESS_SOURCE_DIR).parent_path().string() + "/shared";
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
  const fs::path dir = fs::temp_directory_path() / ("modelpress-bench-llama7b-" + std::to_string(layers));
  if (!fs::exists(dir / "model.safetensors")) {
    std::printf("writing a synthetic Llama-7B-shaped model with %d layers to %s ...\n", layers, dir.c_str());
    write_synthetic_llama7b(dir, layers);
  }
  const double gib = fs::file_size(dir / "model.safetensors") / double(1 << 30);
  std::printf("synthetic model: %.2f GiB of f32 weights\n", gib);
  for (const char* dtype : {"f32", "bf16"})
    measure("llama7b-shapes x" + std::to_string(layers), dir.string(), dtype, 1, tokens, 2);
  return 0;
}
