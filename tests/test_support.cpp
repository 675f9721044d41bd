#include "tests/test_support.h"
#include "tests/run_program.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "lib/base/sanitizers.h"
#include "lib/base/version.h"

namespace fs = std::filesystem;

namespace mp::test {

std::string shared_path(const std::string& relative) {
  const char* env = std::getenv("MODELPRESS_SHARED");
  fs::path root = env ? fs::path(env) : fs::path(source_dir()) / ".." / "shared";
  fs::path p = root / relative;
  if (!fs::exists(p))
    FAIL("reference data missing: " << p.string()
                                    << " (tests expect ../shared beside the checkout, or MODELPRESS_SHARED)");
  return p.lexically_normal().string();
}

ScratchDir::ScratchDir() {
  static std::atomic<int> counter{0};
  root = fs::temp_directory_path() /
         ("modelpress-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(root);
  fs::create_directories(root);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(root, ec);
}

std::string ScratchDir::path(const std::string& name) const {
  return name.empty() ? root.string() : (root / name).string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CommandResult run_modelpress(const std::string& args) { return run_modelpress(args, ""); }

CommandResult run_modelpress(const std::string& args, const std::string& stdin_text) {
  return run_program("'" + modelpress_binary() + "'", args, stdin_text);
}

CommandResult run_modelpress_after(const std::string& shell_setup, const std::string& args,
                                   const std::string& stdin_text) {
  return run_program(shell_setup + " exec '" + modelpress_binary() + "'", args, stdin_text);
}

std::string memory_limit_4gb() {
#ifdef MODELPRESS_ASAN
  return "export ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:"
         "soft_rss_limit_mb=4000:max_allocation_size_mb=4000\";";
#else
  return "ulimit -v 4000000;";
#endif
}

CommandResult run_program(const std::string& program, const std::string& args, const std::string& stdin_text) {
  ScratchDir dir;
  const std::string in = dir.path("stdin"), out = dir.path("stdout"), err = dir.path("stderr");
  std::ofstream(in, std::ios::binary) << stdin_text;
  // A subshell, so that a program given with shell setup ("ulimit -f 8;") keeps its limits to itself.
  const std::string cmd = "(" + program + " " + args + ") >'" + out + "' 2>'" + err + "' <'" + in + "'";
  int status = std::system(cmd.c_str());
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return {code, read_file(out), read_file(err)};
}

}  // namespace mp::test

#include "formats/safetensors.h"
#include "lib/arch/architecture.h"
#include "lib/base/atomic_output.h"
#include "lib/base/version.h"

namespace mp::test {

nlohmann::json tiny_config(const std::string& model_type) {
  return {{"model_type", model_type}, {"hidden_size", 32}, {"intermediate_size", 48},
          {"num_hidden_layers", 2},   {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"vocab_size", 512},        {"max_position_embeddings", 128}, {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},    {"tie_word_embeddings", false}, {"bos_token_id", 1},
          {"eos_token_id", 2}};
}

nlohmann::json kquant_config() {
  nlohmann::json c = tiny_config("llama");
  c["hidden_size"] = 256;
  c["intermediate_size"] = 512;
  c["num_attention_heads"] = 4;
  c["num_key_value_heads"] = 1;
  return c;
}

std::map<std::string, at::Tensor> write_random_model(const std::string& dir, const nlohmann::json& config,
                                                     uint64_t seed) {
  at::manual_seed(seed);
  const int64_t h = config["hidden_size"], f = config["intermediate_size"], v = config["vocab_size"];
  const int64_t heads = config["num_attention_heads"], kv = config["num_key_value_heads"];
  const int64_t d = config.value("head_dim", h / heads);
  const ModelConfig parsed = ModelConfig::from_json(config, "test config");
  const bool biases = parsed.qkv_bias;
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  auto add = [&](const std::string& name, at::Tensor t) { tensors.emplace_back(name, t); };
  auto randn = [](std::vector<int64_t> shape, double scale) { return at::randn(shape) * scale; };
  add("model.embed_tokens.weight", randn({v, h}, 1.0));
  for (int64_t i = 0; i < config["num_hidden_layers"].get<int64_t>(); ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", 1 + randn({h}, 0.1));
    add(p + "post_attention_layernorm.weight", 1 + randn({h}, 0.1));
    add(p + "self_attn.q_proj.weight", randn({heads * d, h}, 0.2));
    add(p + "self_attn.k_proj.weight", randn({kv * d, h}, 0.2));
    add(p + "self_attn.v_proj.weight", randn({kv * d, h}, 0.2));
    add(p + "self_attn.o_proj.weight", randn({h, heads * d}, 0.2));
    if (biases) {
      add(p + "self_attn.q_proj.bias", randn({heads * d}, 0.5));
      add(p + "self_attn.k_proj.bias", randn({kv * d}, 0.5));
      add(p + "self_attn.v_proj.bias", randn({kv * d}, 0.5));
    }
    add(p + "mlp.gate_proj.weight", randn({f, h}, 0.2));
    add(p + "mlp.up_proj.weight", randn({f, h}, 0.2));
    add(p + "mlp.down_proj.weight", randn({h, f}, 0.2));
    // phi3 stores [q; k; v] and [gate; up] as one linear each.
    auto fuse = [&](const std::vector<std::string>& parts, const std::string& fused, const std::string& kind) {
      std::vector<at::Tensor> rows;
      for (const std::string& part : parts) {
        const auto it = std::find_if(tensors.begin(), tensors.end(), [&](const auto& kv) { return kv.first == p + part + kind; });
        if (it == tensors.end()) return;
        rows.push_back(it->second);
        tensors.erase(it);
      }
      add(p + fused + kind, at::cat(rows, 0));
    };
    for (const std::string kind : {".weight", ".bias"}) {
      if (parsed.fused_qkv) fuse({"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, "self_attn.qkv_proj", kind);
      if (parsed.fused_gate_up) fuse({"mlp.gate_proj", "mlp.up_proj"}, "mlp.gate_up_proj", kind);
    }
    // What the architecture adds to the tensors above (q/k norms, an o_proj bias), drawn after them
    // so the common tensors keep their values.
    for (const LayerTensor& t : architecture_of(parsed).layer_tensors(parsed)) {
      const std::string name = p + t.hf;
      if (std::any_of(tensors.begin(), tensors.end(), [&](const auto& kv) { return kv.first == name; })) continue;
      add(name, t.kind == LayerTensor::Kind::norm ? 1 + randn(t.shape, 0.1)
                : t.kind == LayerTensor::Kind::bias ? randn(t.shape, 0.5)
                                                    : randn(t.shape, 0.2));
    }
  }
  add("model.norm.weight", 1 + randn({h}, 0.1));
  if (!config.value("tie_word_embeddings", false)) add("lm_head.weight", randn({v, h}, 0.3));
  fs::create_directories(dir);
  save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors);
  write_file_atomically((fs::path(dir) / "config.json").string(), config.dump(2));
  return std::map<std::string, at::Tensor>(tensors.begin(), tensors.end());
}

}  // namespace mp::test
