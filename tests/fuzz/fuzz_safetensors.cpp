// A safetensors file: header JSON, dtypes, shapes and byte spans; every tensor is then viewed.
#include "formats/safetensors.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mp::fuzz::run([&] {
    const mp::SafetensorsFile file(mp::fuzz::write_scratch("model.safetensors", data, size));
    for (const auto& info : file.tensors()) (void)file.tensor(info).sum().item<double>();
  });
}
