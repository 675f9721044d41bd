// The calibration states after a finished layer, kept beside an interrupted run's layers so that a
// resume starts from them instead of running every finished layer again over the calibration set
// (at 128 × 2048 tokens of a 1B model, minutes per layer).
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace mp {

struct SavedStates {
  int64_t after_layer = -1;  // -1: nothing saved
  at::Tensor states;
};

// Replaces what `dir` holds with the states after layer `after_layer` (written whole, then renamed).
void save_calibration_states(const std::string& dir, int64_t after_layer, const at::Tensor& states);

// The states saved in `dir` if they were taken after one of the first `finished_layers` layers and
// have these sizes and dtype; otherwise none. Placed on `options`' device.
SavedStates load_calibration_states(const std::string& dir, int64_t finished_layers, at::IntArrayRef sizes,
                                    const at::TensorOptions& options);

// Removes them before `dir` becomes the finished output.
void remove_calibration_states(const std::string& dir);

}  // namespace mp
