// An importance matrix in either format (llama.cpp's legacy .dat or GGUF, told apart by content),
// and the importance it gives.
#include "formats/imatrix_file.h"
#include "tests/fuzz/fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mp::fuzz::run([&] { (void)mp::read_imatrix(mp::fuzz::write_scratch("imatrix", data, size)).importance(); });
}
