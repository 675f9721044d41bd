// What to quantize and how: the method, the default grid, per-module overrides and skips.
// Module names are HF names without ".weight" ("model.layers.3.mlp.down_proj"); patterns are
// regular expressions searched within them, as GPTQModel's `dynamic` rules are.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quant/calibration.h"
#include "quant/affine_grid.h"
#include "quant/awq.h"
#include "quant/gptq.h"

namespace mp {

enum class QuantMethod { rtn, gptq };

struct ModuleOverride {
  std::string pattern;
  std::optional<int> bits;
  std::optional<int64_t> group_size;
};

struct QuantizePlan {
  QuantMethod method = QuantMethod::gptq;  // how the weights are rounded
  std::optional<AwqOptions> awq;            // AWQ scaling (and clipping) of each layer before rounding
  bool round = true;                        // false: layers stay float (AWQ --export-scaled)
  AffineGridOptions grid;
  GptqOptions gptq;
  bool true_sequential = true;
  std::vector<std::string> skip;           // modules kept in full precision
  std::vector<ModuleOverride> overrides;   // the last matching override wins
  CalibrationOptions calibration;
  int64_t batch = 8;                       // calibration samples per forward pass
  // Grids decided outside the plan, replacing `grid`, `overrides` and `skip`: a GGUF type mix
  // gives each linear the ggml block grid of its type (formats/gguf_sink.h); null keeps a module
  // in full precision.
  std::function<std::shared_ptr<const Grid>(const std::string& module)> module_grids;
  // After the last layer, one more stage (quant/quantize_output.h): the output matrix solved by
  // GPTQ on the final norm's outputs, and an untied token embedding encoded with its rows weighted
  // by token frequency, each when grid_for() gives its module a grid. The sink must take them
  // (QuantizedModelSink::add_output_linear); set for GGUF outputs.
  bool calibrate_output = false;

  // The grid for a module, or null when the module is skipped.
  std::shared_ptr<const Grid> grid_for(const std::string& module) const;
  AffineGridOptions grid_options_for(const std::string& module) const;
  bool skipped(const std::string& module) const;
  void validate() const;  // bad bits/group combinations and malformed patterns: fail_input
};

// "PATTERN:bits=3,group=64" (either key may be left out).
ModuleOverride parse_module_override(const std::string& text);
const char* method_name(QuantMethod method);

}  // namespace mp
