// model.safetensors.index.json of a sharded checkpoint, beside two valid shards it may name.
#include "formats/safetensors.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mp::fuzz::run([&] {
    mp::save_safetensors(mp::fuzz::scratch_dir() + "/model-00001-of-00002.safetensors", {{"a", at::ones({2, 3})}});
    mp::save_safetensors(mp::fuzz::scratch_dir() + "/model-00002-of-00002.safetensors", {{"b", at::ones({4})}});
    mp::fuzz::write_scratch("model.safetensors.index.json", data, size);
    const mp::SafetensorsCheckpoint checkpoint(mp::fuzz::scratch_dir());
    for (const auto& name : checkpoint.names()) (void)checkpoint.tensor(name).sum().item<double>();
  });
}
