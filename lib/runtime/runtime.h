// Process-wide runtime settings shared by every tool: threads, device, compute type, quietness.
#pragma once
#include <string>

#include "lib/base/text_file.h"  // read_text_file: how the tools read their text inputs
#include "lib/runtime/llama_model.h"

namespace mp {

struct RuntimeSettings {
  int threads = 0;  // 0: one per usable core (LibTorch itself starts with 1 here)
  std::string device = "cpu";
  std::string dtype = "f32";
  bool quiet = false;
};

// LibTorch's thread count: `threads`, or for 0 one per core this process may run on (its CPU
// affinity, which batch schedulers set); negative is a bad --threads.
void set_cpu_threads(int threads);

// Applies threads and quietness to the process and returns the model runtime options.
RuntimeOptions apply_runtime_settings(const RuntimeSettings& settings);


}  // namespace mp
