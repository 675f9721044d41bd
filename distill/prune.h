// `modelpress prune` end to end: the shape the targets ask for (checked before anything is read
// or written), importance on calibration windows, the most important units kept, the smaller model
// written. Distillation (`distill-train --student OUT --teacher MODEL`) recovers what was lost.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "distill/prune_shape.h"
#include "lib/runtime/runtime.h"
#include "quant/calibration.h"

namespace mp {

struct PruneRequest {
  std::string model, out;
  PruneTargets targets;
  CalibrationOptions calibration;  // file: --data; seqlen 0: min(2048, context)
  int64_t batch = 8;               // calibration windows per forward
  RuntimeSettings runtime;
};

// The report also written as OUT/prune_report.json: the shape before and after, parameter counts,
// every layer's block influence, and the kept layers.
nlohmann::json run_prune(const PruneRequest& request);

}  // namespace mp
