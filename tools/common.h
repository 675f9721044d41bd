// Options every model-running tool shares.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>

#include "formats/gguf_type_allocation.h"
#include "lib/pipeline/provenance.h"
#include "lib/runtime/runtime.h"

namespace mp::tools {

// The settings of the tools that only run a model (eval, compare, generate, speculate): their compute
// type defaults to auto (lib/runtime/compute_type.h). Tools whose outputs are files (quantize,
// imatrix, prune, distill-train) keep f32 by default, so the same options write the same bytes.
inline RuntimeSettings inference_settings() {
  RuntimeSettings s;
  s.dtype = "auto";
  return s;
}

inline void add_runtime_options(CLI::App* cmd, RuntimeSettings& s) {
  cmd->add_option("--threads,-t", s.threads, "CPU threads (0: one per core)")->capture_default_str();
  cmd->add_option("--device", s.device, "cpu or cuda[:N]")->capture_default_str();
  cmd->add_option("--dtype", s.dtype, "compute type: auto (bf16 where the CPU or GPU multiplies bf16 natively, else f32), f32, bf16 (f16 on CUDA)")
      ->capture_default_str();
  cmd->add_flag("--quiet,-q", s.quiet, "no progress output");
}

// --target-bpw / --target-size of the GGUF writers (export, quantize --to gguf); one or the other.
// The KL loss's windows and how they are measured; the text itself is --calib (export adds it,
// quantize shares its own).
inline void add_size_target_options(CLI::App* cmd, GgufSizeTarget& target) {
  auto* bpw = cmd->add_option("--target-bpw", target.bpw,
                              "GGUF: pick each weight's type (q2_K..q8_0) for the least loss at this many bits per "
                              "weight of the whole file (needs --imatrix; --type labels the file; the loss is the KL "
                              "at the logits on --calib text, or an imatrix-weighted weight error without it)")
                  ->check(CLI::PositiveNumber);
  cmd->add_option("--target-size", target.bytes, "GGUF: as --target-bpw, for a file of at most this many bytes")
      ->check(CLI::PositiveNumber)
      ->excludes(bpw);
  cmd->add_option("--target-windows", target.windows,
                  "GGUF size target: calibration windows the KL loss runs (--seqlen tokens each)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--target-loss", target.loss,
                  "GGUF size target: kl (every candidate type measured) or kl-scaled (q4_K measured, the other "
                  "types' weight error scaled to it: one partial forward per tensor)")
      ->check(CLI::IsMember({"kl", "kl-scaled"}))
      ->capture_default_str();
}

// The inputs (role, path) and seed this command's outputs record as their provenance.
inline void record_inputs(const std::vector<std::pair<std::string, std::string>>& inputs,
                          std::optional<uint64_t> seed = std::nullopt) {
  for (const auto& [role, path] : inputs) Provenance::current().add_input(role, path);
  if (seed) Provenance::current().set_seed(*seed);
}

}  // namespace mp::tools
