// Shared by the benchmarks: peak RSS and a synthetic model with Llama-7B layer shapes.
#pragma once
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "formats/safetensors.h"
#include "lib/base/atomic_output.h"
#include "lib/base/memory_usage.h"

namespace mp::bench {

namespace fs = std::filesystem;

inline double peak_rss_mib() { return static_cast<double>(peak_resident_bytes()) / (1024.0 * 1024.0); }

inline void reset_peak_rss() { reset_peak_resident(); }

// Llama-7B shapes (hidden 4096, MLP 11008, 32 heads, vocab 32000) with `layers` decoder layers.
inline nlohmann::json llama7b_config(int layers) {
  return {{"model_type", "llama"}, {"hidden_size", 4096}, {"intermediate_size", 11008},
          {"num_hidden_layers", layers}, {"num_attention_heads", 32}, {"num_key_value_heads", 32},
          {"vocab_size", 32000}, {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-5},
          {"tie_word_embeddings", false}};
}

inline std::string write_synthetic_llama7b(const fs::path& dir, int layers) {
  fs::create_directories(dir);
  const nlohmann::json config = llama7b_config(layers);
  const int64_t h = config["hidden_size"], f = config["intermediate_size"], v = config["vocab_size"];
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

// Llama 2's tokenizer (32000 pieces, the synthetic model's vocabulary) from `shared` into `dir`.
inline void copy_llama2_tokenizer(const fs::path& dir, const std::string& shared) {
  if (!fs::exists(dir / "tokenizer.model"))
    fs::copy_file(shared + "/tokenizer-vectors/llama2-tokenizer.model", dir / "tokenizer.model");
}

// The synthetic model in the temp dir, written once and reused by later runs, with Llama 2's
// tokenizer for tools that tokenize.
inline fs::path synthetic_llama7b(int layers, const std::string& shared) {
  const fs::path dir = fs::temp_directory_path() / ("modelpress-bench-llama7b-" + std::to_string(layers));
  if (!fs::exists(dir / "model.safetensors")) {
    std::printf("writing a synthetic Llama-7B-shaped model with %d layers to %s ...\n", layers, dir.c_str());
    write_synthetic_llama7b(dir, layers);
  }
  copy_llama2_tokenizer(dir, shared);
  return dir;
}

}  // namespace mp::bench
