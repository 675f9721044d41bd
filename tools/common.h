// Options every model-running tool shares.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>

#include "lib/pipeline/provenance.h"
#include "lib/runtime/runtime.h"

namespace mp::tools {

inline void add_runtime_options(CLI::App* cmd, RuntimeSettings& s) {
  cmd->add_option("--threads,-t", s.threads, "CPU threads (0: one per core)")->capture_default_str();
  cmd->add_option("--device", s.device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--dtype", s.dtype, "compute type: f32, bf16 (f16 on CUDA)")->capture_default_str();
  cmd->add_flag("--quiet,-q", s.quiet, "no progress output");
}

// The inputs (role, path) and seed this command's outputs record as their provenance.
inline void record_inputs(const std::vector<std::pair<std::string, std::string>>& inputs,
                          std::optional<uint64_t> seed = std::nullopt) {
  for (const auto& [role, path] : inputs) Provenance::current().add_input(role, path);
  if (seed) Provenance::current().set_seed(*seed);
}

}  // namespace mp::tools
