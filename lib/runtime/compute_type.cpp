#include "lib/runtime/compute_type.h"

#include <ATen/detail/CUDAHooksInterface.h>

#include <fstream>
#include <sstream>

namespace mp {

bool cpu_flags_have_native_bf16(const std::string& flags) {
  std::istringstream words(flags);
  for (std::string w; words >> w;)
    if (w == "avx512_bf16" || w == "amx_bf16") return true;
  return false;
}

std::string cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    // "flags\t\t: fpu vme ..." on x86; the same key on every processor, so the first will do.
    if (line.rfind("flags", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon != std::string::npos) return line.substr(colon + 1);
  }
  return "";
}

at::ScalarType auto_compute_type(const at::Device& device) {
  // LibTorch's CPU headers expose no CUDA compute capability; this hook answers "major >= 8" for
  // the current device (in builds with cuDNN, as LibTorch's CUDA builds are).
  const bool native_bf16 = device.is_cuda() ? at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8()
                                            : cpu_flags_have_native_bf16(cpu_flags());
  return native_bf16 ? at::kBFloat16 : at::kFloat;
}

std::string compute_type_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "f16";
    default: return "f32";
  }
}

}  // namespace mp
