// model.safetensors.index.json of a sharded checkpoint, beside two valid shards it may name.
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include "formats/safetensors.h"
#include "tests/fuzz/fuzz_harness.h"

namespace {

// The shards' bytes, made once by modelpress's writer: writing them through it for every input
// (lock, temporary, rename) took most of an execution.
const std::vector<std::pair<std::string, std::string>>& shards() {
  static const auto* files = [] {
    const std::string dir = mp::fuzz::scratch_dir();
    mp::save_safetensors(dir + "/model-00001-of-00002.safetensors", {{"a", at::ones({2, 3})}});
    mp::save_safetensors(dir + "/model-00002-of-00002.safetensors", {{"b", at::ones({4})}});
    auto* out = new std::vector<std::pair<std::string, std::string>>;
    for (const char* name : {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}) {
      std::ifstream in(dir + "/" + name, std::ios::binary);
      out->emplace_back(name, std::string(std::istreambuf_iterator<char>(in), {}));
    }
    return out;
  }();
  return *files;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& shard_files = shards();
  return mp::fuzz::run([&] {
    for (const auto& [name, bytes] : shard_files) mp::fuzz::write_scratch(name, bytes);
    mp::fuzz::write_scratch("model.safetensors.index.json", data, size);
    const mp::SafetensorsCheckpoint checkpoint(mp::fuzz::scratch_dir());
    for (const auto& name : checkpoint.names()) (void)checkpoint.tensor(name).sum().item<double>();
  });
}
