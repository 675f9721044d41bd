// Writes a synthetic checkpoint shaped like Llama-3.2-1B-Instruct as it is released: config.json
// (tied embeddings, llama3 rope scaling, torch_dtype bfloat16), generation_config.json, and bf16
// safetensors shards listed in model.safetensors.index.json. Weights are N(0, 0.02) and norms 1,
// from a fixed seed, so two runs write the same bytes. bench/bench_1b.sh adds the tokenizer files.
// Other Llama shapes with the same layout: --hidden, --ffn, --heads, --kv-heads (head_dim is
// hidden / heads) and --vocab; a vocabulary of 32000 gets Llama 2's token ids and rope (theta 10000,
// no scaling), for Llama 2's tokenizer.model (bench/vs_llamacpp.sh's 410M model).
// Usage: write_llama1b DIR [--layers N] [--shard-mib M] [--hidden H] [--ffn F] [--heads N] [--kv-heads K] [--vocab V]
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

// Llama-3.2-1B's shape unless the options say otherwise.
struct Shape {
  int layers = 16;
  int64_t hidden = 2048, ffn = 8192, heads = 32, kv_heads = 8, vocab = 128256;
  int64_t head_dim() const { return hidden / heads; }
  bool llama2_vocab() const { return vocab == 32000; }
};

Json llama1b_config(const Shape& s) {
  Json c = {{"architectures", {"LlamaForCausalLM"}},
            {"attention_bias", false},
            {"bos_token_id", 128000},
            {"eos_token_id", {128001, 128008, 128009}},
            {"head_dim", s.head_dim()},
            {"hidden_act", "silu"},
            {"hidden_size", s.hidden},
            {"intermediate_size", s.ffn},
            {"max_position_embeddings", 131072},
            {"mlp_bias", false},
            {"model_type", "llama"},
            {"num_attention_heads", s.heads},
            {"num_hidden_layers", s.layers},
            {"num_key_value_heads", s.kv_heads},
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
            {"vocab_size", s.vocab}};
  if (s.llama2_vocab()) {
    c["bos_token_id"] = 1;
    c["eos_token_id"] = 2;
    c["max_position_embeddings"] = 4096;
    c["rope_theta"] = 10000.0;
    c.erase("rope_scaling");
  }
  return c;
}

Json llama1b_generation_config(const Shape& s) {
  if (s.llama2_vocab()) return {{"bos_token_id", 1}, {"do_sample", true}, {"eos_token_id", 2}, {"temperature", 0.6}, {"top_p", 0.9}};
  return {{"bos_token_id", 128000}, {"do_sample", true}, {"eos_token_id", {128001, 128008, 128009}},
          {"temperature", 0.6}, {"top_p", 0.9}};
}

std::vector<mp::TensorInfo> llama1b_tensors(const Shape& s) {
  const int64_t h = s.hidden, f = s.ffn;
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {{"model.embed_tokens.weight", {s.vocab, h}}};
  const int64_t q_rows = s.heads * s.head_dim(), kv_rows = s.kv_heads * s.head_dim();
  for (int i = 0; i < s.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    shapes.push_back({p + "input_layernorm.weight", {h}});
    shapes.push_back({p + "self_attn.q_proj.weight", {q_rows, h}});
    shapes.push_back({p + "self_attn.k_proj.weight", {kv_rows, h}});
    shapes.push_back({p + "self_attn.v_proj.weight", {kv_rows, h}});
    shapes.push_back({p + "self_attn.o_proj.weight", {h, q_rows}});
    shapes.push_back({p + "post_attention_layernorm.weight", {h}});
    shapes.push_back({p + "mlp.gate_proj.weight", {f, h}});
    shapes.push_back({p + "mlp.up_proj.weight", {f, h}});
    shapes.push_back({p + "mlp.down_proj.weight", {h, f}});
  }
  shapes.push_back({"model.norm.weight", {h}});
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
    std::fprintf(stderr,
                 "usage: write_llama1b DIR [--layers N] [--shard-mib M] [--hidden H] [--ffn F] [--heads N] [--kv-heads K] [--vocab V]\n");
    return 2;
  }
  const fs::path dir = argv[1];
  Shape shape;
  uint64_t shard_mib = 1024;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int64_t value = std::strtoll(argv[i + 1], nullptr, 10);
    if (flag == "--layers") shape.layers = static_cast<int>(value);
    else if (flag == "--shard-mib") shard_mib = static_cast<uint64_t>(value);
    else if (flag == "--hidden") shape.hidden = value;
    else if (flag == "--ffn") shape.ffn = value;
    else if (flag == "--heads") shape.heads = value;
    else if (flag == "--kv-heads") shape.kv_heads = value;
    else if (flag == "--vocab") shape.vocab = value;
    else {
      std::fprintf(stderr, "write_llama1b: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  fs::create_directories(dir);
  at::manual_seed(1234);
  if (shape.layers < 1 || shape.hidden < 1 || shape.ffn < 1 || shape.heads < 1 || shape.kv_heads < 1 || shape.vocab < 1 ||
      shard_mib < 1 || shape.hidden % shape.heads != 0 || shape.heads % shape.kv_heads != 0) {
    std::fprintf(stderr, "write_llama1b: sizes must be positive, heads must divide hidden and kv-heads heads\n");
    return 2;
  }
  const auto shards = split_into_shards(llama1b_tensors(shape), shard_mib << 20);
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
  mp::write_file_atomically((dir / "generation_config.json").string(), llama1b_generation_config(shape).dump(2));
  mp::write_file_atomically((dir / "config.json").string(), llama1b_config(shape).dump(2));
  std::printf("%s: %d layers, %lld parameters, %.2f GiB of bf16 weights in %zu shards\n", dir.c_str(), shape.layers,
              static_cast<long long>(total_bytes / 2), total_bytes / double(1 << 30), shards.size());
  return 0;
}
