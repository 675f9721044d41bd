// model.safetensors.index.json of a sharded checkpoint, beside two valid shards it may name.
#include <utility>
#include <vector>

#include "formats/safetensors.h"
#include "lib/base/text_file.h"
#include "tests/fuzz/fuzz_harness.h"

namespace {

// The shards' bytes, made once by modelpress's writer: writing them through it for every input
// (lock, temporary, rename) took most of an execution.
const std::vector<std::pair<std::string, std::string>>& shards() {
  static const auto* files = [] {
    const std::string dir = mp::fuzz::scratch_dir();
    auto* out = new std::vector<std::pair<std::string, std::string>>;
    const auto save = [&](const std::string& name, const std::string& tensor, const at::Tensor& value) {
      mp::save_safetensors(dir + "/" + name, {{tensor, value}});
      out->emplace_back(name, mp::read_text_file(dir + "/" + name));
    };
    save("model-00001-of-00002.safetensors", "a", at::ones({2, 3}));
    save("model-00002-of-00002.safetensors", "b", at::ones({4}));
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
