// A GGUF file: header, metadata (every value type, nested arrays), tensor table; small tensors are
// then dequantized with their ggml type's codec.
#include "formats/gguf_file.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mp::fuzz::run([&] {
    const mp::GgufFile file(mp::fuzz::write_scratch("model.gguf", data, size));
    for (const auto& info : file.tensors())
      if (info.numel() <= (1 << 16)) (void)file.tensor(info).sum().item<double>();
  });
}
