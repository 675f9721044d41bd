// Shared helpers for tests: where ../shared is, scratch directories, running the CLI.
#pragma once
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

namespace mp::test {

// A path under ../shared (or $MODELPRESS_SHARED). Fails the test, loudly, when it is missing.
std::string shared_path(const std::string& relative);
// A fresh, empty directory under the system temp dir, removed when the object dies.
struct ScratchDir {
  ScratchDir();
  ~ScratchDir();
  std::string path(const std::string& name = "") const;
  std::filesystem::path root;
};
struct CommandResult {
  int exit_code;
  std::string out, err;
};
// The whole file (empty when it cannot be read).
std::string read_file(const std::string& path);
// The built `modelpress` binary.
std::string modelpress_binary();
// Runs the built `modelpress` binary with the given arguments (a shell-quoted string), its standard
// input empty or `stdin_text`.
CommandResult run_modelpress(const std::string& args);
CommandResult run_modelpress(const std::string& args, const std::string& stdin_text);
// The same, in a child shell that first runs `shell_setup` ("ulimit -v 4000000;", "cd DIR;").
CommandResult run_modelpress_after(const std::string& shell_setup, const std::string& args,
                                   const std::string& stdin_text = "");
// Shell setup for run_modelpress_after that bounds the program's memory at about 4 GB: `ulimit -v`,
// or in a sanitizer build (whose shadow memory alone takes terabytes of address space) ASan's own
// limits, past which allocations fail as they would under the ulimit.
std::string memory_limit_4gb();

}  // namespace mp::test

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace mp::test {

// Writes a small random Llama-family model (config.json + model.safetensors) into `dir`.
// `config` must hold the HF keys; tensors follow its shapes (biases when qwen2/attention_bias,
// lm_head only when tie_word_embeddings is false). Returns the tensors written.
std::map<std::string, at::Tensor> write_random_model(const std::string& dir, const nlohmann::json& config,
                                                     uint64_t seed);
nlohmann::json tiny_config(const std::string& model_type = "llama");
// A tiny llama whose rows fill 256-wide k-quant super-blocks, with 4 query heads per KV head.
nlohmann::json kquant_config();

}  // namespace mp::test
