// A recipe's steps as command lines, built and checked against the tools' own CLI11 definitions
// (so the recipe code never repeats a tool's option list), before anything runs.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/pipeline/recipe.h"

namespace CLI {
class App;
}

namespace mp {

// Builds a fresh `modelpress` app with every tool registered (tools/app.cpp provides it).
using AppFactory = std::function<std::unique_ptr<CLI::App>()>;

struct PlannedStep {
  std::string name;
  std::vector<std::string> argv;  // the tool, then its arguments: `modelpress` + argv is the command
};

// Turns each step's args into argv: text → `--key value`, true → `--key`, false and "" → nothing,
// lists → `--key a,b` for options with a delimiter, else `--key a --key b`; a positional's value
// is passed alone. Then parses every step's argv with its tool's options, without running the tool.
// The first problem (unknown tool or option, wrong type, missing required option) fails as bad
// input naming the recipe file, the step and the key.
std::vector<PlannedStep> plan_recipe(const Recipe& recipe, const AppFactory& make_app);

// The steps `--from STEP` (that one and the ones after it) or `--only STEP` select; all when both
// are empty. An unknown step name fails as bad input.
std::vector<PlannedStep> select_steps(const std::vector<PlannedStep>& plan, const std::string& from,
                                      const std::string& only);

// "modelpress TOOL ARGS...", shell-quoted: what `--dry-run` prints for the step.
std::string command_line(const PlannedStep& step);

}  // namespace mp
