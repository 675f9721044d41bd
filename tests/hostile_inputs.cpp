#include "tests/hostile_inputs.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "formats/safetensors.h"

namespace fs = std::filesystem;

namespace mp::test {

std::string stories_with_config_text(const std::string& dir, const std::string& text) {
  const fs::path original = shared_path("models/stories260K");
  fs::create_directories(dir);
  for (const char* name : {"model.safetensors", "tokenizer.model", "tokenizer_config.json"})
    fs::copy_file(original / name, fs::path(dir) / name, fs::copy_options::overwrite_existing);
  std::ofstream(fs::path(dir) / "config.json", std::ios::binary) << text;
  return dir;
}

std::string stories_with_config(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json config = nlohmann::json::parse(read_file(shared_path("models/stories260K/config.json")));
  edit(config);
  return stories_with_config_text(dir, config.dump(2));
}

std::string deeply_nested_json(int depth) {
  return "{\"model_type\": \"llama\", \"deep\": " + std::string(depth, '[') + "1" + std::string(depth, ']') + "}";
}

void rewrite_tensor(const std::string& dir, const std::string& name, const std::function<at::Tensor(at::Tensor)>& edit) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    Metadata metadata;
    bool holds = false;
    {
      const SafetensorsFile file(entry.path().string());
      metadata = file.metadata();
      for (const auto& info : file.tensors()) {
        at::Tensor t = file.tensor(info).clone();
        if (info.name == name) {
          holds = true;
          t = edit(t);
        }
        tensors.emplace_back(info.name, t);
      }
    }
    if (!holds) continue;
    save_safetensors(entry.path().string(), tensors, metadata);
    return;
  }
  FAIL("no safetensors file in " << dir << " holds " << name);
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

void require_bad_input(const CommandResult& r, const std::string& file, const std::string& field) {
  INFO("exit " << r.exit_code << ", stderr: " << r.err.substr(0, 2000));
  CHECK(r.exit_code == 3);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(file) != std::string::npos);
  CHECK(r.err.find(field) != std::string::npos);
}

void require_no_output(const std::string& dir, const std::string& output) {
  CHECK_FALSE(fs::exists(fs::path(dir) / output));
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    INFO(entry.path().string());
    CHECK(name.find(".partial") == std::string::npos);
    CHECK(name.find(".lock") == std::string::npos);
    CHECK(name.find(".resumable") == std::string::npos);
  }
}

}  // namespace mp::test
