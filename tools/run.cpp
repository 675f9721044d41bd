// modelpress run RECIPE: the steps of a YAML recipe, each exactly as `modelpress TOOL ARGS...`
// (docs/recipes.md). Every step is checked before the first one runs.
#include <cstdio>
#include <iostream>

#include "lib/base/error.h"
#include "lib/pipeline/recipe_plan.h"
#include "tools/tools.h"

namespace mp::tools {

namespace {
struct RunArgs {
  std::string recipe, from, only;
  std::vector<std::string> sets;
  bool dry_run = false;
};

void run_recipe(const RunArgs& a) {
  const Recipe recipe = load_recipe(a.recipe, a.sets);
  const std::vector<PlannedStep> steps = select_steps(plan_recipe(recipe, make_app), a.from, a.only);
  if (a.dry_run) {
    for (const auto& step : steps) std::cout << command_line(step) << "\n";
    return;
  }
  RecipeContext context{recipe.path, recipe.sha256, "", recipe.vars};
  for (size_t i = 0; i < steps.size(); ++i) {
    std::fprintf(stderr, "run: step %zu/%zu %s: %s\n", i + 1, steps.size(), steps[i].name.c_str(),
                 command_line(steps[i]).c_str());
    context.step = steps[i].name;
    const ActiveRecipeScope scope(context);
    const int code = run_command_line("modelpress", steps[i].argv);
    std::fflush(stdout);  // the step's results before the next step's header
    if (code != 0) throw Error(static_cast<ExitCode>(code), "run: step " + steps[i].name + " failed");
  }
}
}  // namespace

void add_run(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Run the steps of a YAML recipe (recipes/*.yaml)");
  auto a = std::make_shared<RunArgs>();
  cmd->add_option("recipe", a->recipe, "recipe file")->required();
  cmd->add_option("--set", a->sets, "override a recipe variable: name=value (repeatable)");
  cmd->add_flag("--dry-run", a->dry_run, "print each step's command line and run nothing");
  cmd->add_option("--from", a->from, "start at this step");
  cmd->add_option("--only", a->only, "run only this step");
  cmd->callback([a] { run_recipe(*a); });
}

}  // namespace mp::tools
