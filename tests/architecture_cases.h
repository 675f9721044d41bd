// Each architecture beyond Llama at the tiny size, with windows (4) shorter than the tests' inputs:
// qwen3, gemma2, gemma3 and phi3 (longrope past 16 tokens). Used by the architecture tests and by
// batched generation's.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace mp::test {

struct ArchitectureCase {
  std::string name;
  nlohmann::json config;
};

std::vector<ArchitectureCase> architecture_cases();
// Writes the case's random model (seed 11) with stories260K's tokenizer under dir; returns its path.
std::string write_architecture_model(const ScratchDir& dir, const ArchitectureCase& c);

}  // namespace mp::test
