// A training checkpoint: everything a run needs to continue exactly as if never stopped.
//   DIR/model.safetensors      the parameters (f32)
//   DIR/optimizer.safetensors  AdamW's exp_avg.* and exp_avg_sq.*
//   DIR/state.json             step, samples consumed (the data position), optimizer step count,
//                              and the run's settings, which a resume must match
// The learning rate is a pure function of the step and sample order a pure function of the seed
// and sample counter, so no other RNG state exists. Written as one AtomicDirectory.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "distill/adamw.h"
#include "distill/student_model.h"

namespace mp {

struct TrainProgress {
  int64_t step = 0;     // optimizer steps completed
  int64_t samples = 0;  // windows consumed, over all processes
};

void save_checkpoint(const std::string& dir, const StudentModel& student, const AdamW& optimizer,
                     const TrainProgress& progress, const nlohmann::json& settings);

// Restores the model and optimizer in place; settings that differ from the checkpoint's are bad
// input naming the first such setting.
TrainProgress load_checkpoint(const std::string& dir, StudentModel& student, AdamW& optimizer,
                              const nlohmann::json& settings);

}  // namespace mp
