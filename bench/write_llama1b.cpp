// Writes a synthetic checkpoint shaped like Llama-3.2-1B-Instruct as it is released: config.json
// (tied embeddings, llama3 rope scaling, torch_dtype bfloat16), generation_config.json, and bf16
// safetensors shards listed in model.safetensors.index.json. Weights are N(0, 0.02) and norms 1,
// from a fixed seed, so two runs write the same bytes. bench/bench_1b.sh adds the tokenizer files.
// Usage: write_llama1b DIR [--layers N] [--shard-mib M]
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "formats/safetensors.h"
#include "lib/base/atomic_output.h"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr int64_t kHidden = 2048, kFfn = 8192, kHeads = 32, kKvHeads = 8, kHeadDim = 64, kVocab = 128256;

Json llama1b_config(int layers) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"attention_bias", false},
          {"bos_token_id", 128000},
          {"eos_token_id", {128001, 128008, 128009}},
          {"head_dim", kHeadDim},
          {"hidden_act", "silu"},
          {"hidden_size", kHidden},
          {"intermediate_size", kFfn},
          {"max_position_embeddings", 131072},
          {"mlp_bias", false},
          {"model_type", "llama"},
          {"num_attention_heads", kHeads},
          {"num_hidden_layers", layers},
          {"num_key_value_heads", kKvHeads},
          {"rms_norm_eps", 1e-5},
          {"rope_scaling",
           {{"factor", 32.0},
            {"high_freq_factor", 4.0},
            {"low_freq_factor", 1.0},
            {"original_max_position_embeddings", 8192},
            {"rope_type", "llama3"}}},
          {"rope_theta", 500000.0},
          {"tie_word_embeddings", true},
          {"torch_dtype", "bfloat16"},
          {"vocab_size", kVocab}};
}

Json llama1b_generation_config() {
  return {{"bos_token_id", 128000}, {"do_sample", true}, {"eos_token_id", {128001, 128008, 128009}},
          {"temperature", 0.6}, {"top_p", 0.9}};
}

std::vector<mp::TensorInfo> llama1b_tensors(int layers) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {{"model.embed_tokens.weight", {kVocab, kHidden}}};
  const int64_t q_rows = kHeads * kHeadDim, kv_rows = kKvHeads * kHeadDim;
  for (int i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    shapes.push_back({p + "input_layernorm.weight", {kHidden}});
    shapes.push_back({p + "self_attn.q_proj.weight", {q_rows, kHidden}});
    shapes.push_back({p + "self_attn.k_proj.weight", {kv_rows, kHidden}});
    shapes.push_back({p + "self_attn.v_proj.weight", {kv_rows, kHidden}});
    shapes.push_back({p + "self_attn.o_proj.weight", {kHidden, q_rows}});
    shapes.push_back({p + "post_attention_layernorm.weight", {kHidden}});
    shapes.push_back({p + "mlp.gate_proj.weight", {kFfn, kHidden}});
    shapes.push_back({p + "mlp.up_proj.weight", {kFfn, kHidden}});
    shapes.push_back({p + "mlp.down_proj.weight", {kHidden, kFfn}});
  }
  shapes.push_back({"model.norm.weight", {kHidden}});
  std::vector<mp::TensorInfo> tensors;
  for (const auto& [name, shape] : shapes) {
    mp::TensorInfo t;
    t.name = name;
    t.dtype = mp::DType::BF16;
    t.shape = shape;
    tensors.push_back(t);
  }
  return tensors;
}

// Consecutive tensors in shards of at most `shard_bytes` (a larger tensor gets a shard of its own).
std::vector<std::vector<mp::TensorInfo>> split_into_shards(const std::vector<mp::TensorInfo>& tensors,
                                                           uint64_t shard_bytes) {
  std::vector<std::vector<mp::TensorInfo>> shards(1);
  uint64_t bytes = 0;
  for (const mp::TensorInfo& t : tensors) {
    const uint64_t size = uint64_t(t.numel()) * mp::dtype_bytes(t.dtype);
    if (!shards.back().empty() && bytes + size > shard_bytes) {
      shards.emplace_back();
      bytes = 0;
    }
    shards.back().push_back(t);
    bytes += size;
  }
  return shards;
}

at::Tensor synthetic_weight(const mp::TensorInfo& t) {
  const at::Tensor f32 = t.shape.size() == 1 ? at::ones(t.shape) : at::randn(t.shape) * 0.02;
  return f32.to(at::kBFloat16);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: write_llama1b DIR [--layers N] [--shard-mib M]\n");
    return 2;
  }
  const fs::path dir = argv[1];
  int layers = 16;
  uint64_t shard_mib = 1024;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--layers") layers = std::atoi(argv[i + 1]);
    else if (flag == "--shard-mib") shard_mib = std::strtoull(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "write_llama1b: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  fs::create_directories(dir);
  at::manual_seed(1234);
  const auto shards = split_into_shards(llama1b_tensors(layers), shard_mib << 20);
  Json weight_map = Json::object();
  uint64_t total_bytes = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    mp::SafetensorsWriter writer((dir / name).string(), shards[s], {{"format", "pt"}});
    for (const mp::TensorInfo& t : shards[s]) {
      writer.write(synthetic_weight(t));
      weight_map[t.name] = name;
      total_bytes += uint64_t(t.numel()) * mp::dtype_bytes(t.dtype);
    }
    writer.commit();
    std::printf("wrote %s (%zu tensors)\n", name, shards[s].size());
  }
  const Json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  mp::write_file_atomically((dir / "model.safetensors.index.json").string(), index.dump(2));
  mp::write_file_atomically((dir / "generation_config.json").string(), llama1b_generation_config().dump(2));
  mp::write_file_atomically((dir / "config.json").string(), llama1b_config(layers).dump(2));
  std::printf("%s: %d layers, %.2f GiB of bf16 weights in %zu shards\n", dir.c_str(), layers,
              total_bytes / double(1 << 30), shards.size());
  return 0;
}
