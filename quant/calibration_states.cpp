#include "quant/calibration_states.h"

#include <charconv>
#include <cstdio>
#include <filesystem>

#include "formats/safetensors.h"
#include "lib/base/error.h"

namespace mp {

namespace {

constexpr const char* kFile = "calibration-states.safetensors";
constexpr const char* kTensor = "states";
constexpr const char* kAfterLayer = "after_layer";

}  // namespace

void save_calibration_states(const std::string& dir, int64_t after_layer, const at::Tensor& states) {
  save_safetensors(dir + "/" + kFile, {{kTensor, states.contiguous().cpu()}}, {{kAfterLayer, std::to_string(after_layer)}});
}

SavedStates load_calibration_states(const std::string& dir, int64_t finished_layers, at::IntArrayRef sizes,
                                    const at::TensorOptions& options) {
  const std::string path = dir + "/" + kFile;
  if (dir.empty() || !std::filesystem::exists(path)) return {};
  // The states only save time: a file damaged after it was written (it is written whole) is
  // rebuilt by running the finished layers again, not a reason to give up the resume.
  try {
    const SafetensorsFile file(path);
    const TensorInfo* info = file.find(kTensor);
    const auto after = file.metadata().find(kAfterLayer);
    if (!info || after == file.metadata().end()) return {};
    int64_t after_layer = -1;
    std::from_chars(after->second.data(), after->second.data() + after->second.size(), after_layer);
    const at::Tensor states = file.tensor(*info);
    if (after_layer < 0 || after_layer >= finished_layers || states.sizes() != sizes ||
        states.scalar_type() != options.dtype().toScalarType())
      return {};
    return {after_layer, states.to(options.device(), /*non_blocking=*/false, /*copy=*/true)};
  } catch (const Error& e) {
    if (e.code() != ExitCode::bad_input) throw;
    std::fprintf(stderr, "quantize: ignoring the saved calibration states (%s); the finished layers run again\n", e.what());
    return {};
  }
}

void remove_calibration_states(const std::string& dir) {
  if (!dir.empty()) std::filesystem::remove(dir + "/" + kFile);
}

}  // namespace mp
