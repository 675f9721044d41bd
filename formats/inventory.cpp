#include "formats/inventory.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "formats/gguf_file.h"
#include "formats/hf_config.h"
#include "formats/safetensors.h"
#include "lib/base/error.h"
#include "lib/base/terminal_text.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

// HDF5's format signature, at the start of the files modelpress writes.
bool is_hdf5_file(const std::string& path) {
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  std::ifstream in(path, std::ios::binary);
  char head[8];
  return in.read(head, 8) && std::equal(head, head + 8, kSignature);
}

void add_safetensors(Inventory& inv, const SafetensorsFile& file) {
  for (const auto& [k, v] : file.metadata()) inv.metadata.emplace_back(k, v);
  for (const auto& t : file.tensors())
    inv.tensors.push_back({t.name, dtype_name(t.dtype), fs::path(file.path()).filename().string(),
                           t.shape, t.bytes(), t.numel()});
}

// Shapes outermost first, as for safetensors; dtype is the ggml type name ("q4_K", "f32", ...).
void add_gguf(Inventory& inv, const GgufFile& file) {
  for (const auto& [key, value] : file.metadata()) inv.metadata.emplace_back(key, value.to_text());
  const std::string name = fs::path(file.path()).filename().string();
  for (const auto& t : file.tensors())
    inv.tensors.push_back({t.name, ggml_type_name(t.type), name, t.shape(), t.bytes, t.numel()});
}

}  // namespace

uint64_t Inventory::total_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors) n += t.bytes;
  return n;
}

int64_t Inventory::total_elements() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.elements;
  return n;
}

nlohmann::ordered_json Inventory::to_json() const {
  nlohmann::ordered_json j;
  j["path"] = path;
  j["format"] = format;
  j["metadata"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : metadata) j["metadata"][k] = v;
  j["tensors"] = nlohmann::ordered_json::array();
  for (const auto& t : tensors)
    j["tensors"].push_back({{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape},
                            {"bytes", t.bytes}, {"file", t.file}});
  j["tensor_count"] = tensors.size();
  j["parameters"] = total_elements();
  j["bytes"] = total_bytes();
  return j;
}

std::string Inventory::to_text() const {
  std::ostringstream out;
  out << terminal_safe(path) << " (" << format << ")\n";
  if (!metadata.empty()) out << "metadata:\n";
  for (const auto& [k, v] : metadata)
    out << "  " << terminal_safe(k) << " = " << terminal_safe(v.size() > 120 ? v.substr(0, 117) + "..." : v) << "\n";
  out << "tensors:\n";
  for (const auto& t : tensors) {
    std::string shape;
    for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? " x " : "") + std::to_string(t.shape[i]);
    char line[512];
    std::snprintf(line, sizeof(line), "  %-48s %-6s [%s] %llu bytes\n", terminal_safe(t.name).c_str(), t.dtype.c_str(),
                  shape.c_str(), static_cast<unsigned long long>(t.bytes));
    out << line;
  }
  out << tensors.size() << " tensors, " << total_elements() << " parameters, " << total_bytes()
      << " bytes\n";
  return out.str();
}

Inventory inspect_path(const std::string& path) {
  Inventory inv;
  inv.path = path;
  if (fs::is_directory(path)) {
    inv.format = "hf-checkpoint";
    const fs::path config = fs::path(path) / "config.json";
    if (fs::exists(config)) {
      ModelConfig::load(path);  // an invalid config is reported as every other tool reports it
      std::ifstream in(config);
      std::stringstream text;
      text << in.rdbuf();
      inv.metadata.emplace_back("config.json", text.str());
    }
    SafetensorsCheckpoint ckpt(path);
    for (const auto& f : ckpt.files()) add_safetensors(inv, *f);
    return inv;
  }
  if (!fs::exists(path)) fail_input(path, "no such file or directory");
  if (is_gguf_file(path)) {
    inv.format = "gguf";
    add_gguf(inv, GgufFile(path));
    return inv;
  }
  if (is_hdf5_file(path))
    fail_input(path, "an HDF5 file (a token dataset or a teacher cache): inspect lists safetensors, GGUF and "
                     "checkpoint directories");
  inv.format = "safetensors";
  add_safetensors(inv, SafetensorsFile(path));
  return inv;
}

}  // namespace mp
