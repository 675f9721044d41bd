// Recipes: YAML pipelines of modelpress steps (docs/recipes.md). This file reads a recipe, applies
// `--set` overrides and substitutes `${var}` / `${env:NAME}` into every step argument; turning the
// steps into command lines checked against the tools' own options is recipe_plan.h's job.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace mp {

// One step argument after substitution: a scalar, a list of scalars, or a boolean (a plain
// true/false, which becomes a flag or nothing).
struct RecipeValue {
  enum class Kind { text, boolean, list };
  Kind kind = Kind::text;
  std::vector<std::string> items;  // one item for text; "true"/"false" for boolean
  // Per item, the start of it the user gave with --set ("" when the recipe wrote all of it): a path
  // may go anywhere inside that (lib/pipeline/recipe_paths.h).
  std::vector<std::string> explicit_prefixes;
  bool is_true() const { return kind == Kind::boolean && items[0] == "true"; }
};

struct RecipeArg {
  std::string key;  // a long option name without "--", or a positional's name
  RecipeValue value;
  int line = 0;  // 1-based line in the recipe file, for error messages
};

struct RecipeStep {
  std::string name, tool;
  std::vector<RecipeArg> args;
  int line = 0;
};

using RecipeVars = std::vector<std::pair<std::string, std::string>>;  // in declaration order

struct Recipe {
  std::string path;     // as given on the command line
  std::string sha256;   // of the file's bytes
  std::string description;
  RecipeVars vars;      // resolved: overrides applied, references substituted
  std::vector<RecipeStep> steps;

  // "FILE:LINE: step 'NAME', key 'KEY'" (parts left out when empty/zero): where an error is.
  std::string where(int line, const std::string& step = "", const std::string& key = "") const;
};

// Reads and resolves a recipe. `overrides` are `name=value` strings (`--set`); each must name a
// declared var. Any problem (YAML syntax, unknown or missing keys, duplicate step names, undefined
// or cyclic variables) fails as bad input naming the file, the step and the key.
Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides = {});

// What a running recipe step tells the rest of the program (provenance records it in outputs).
struct RecipeContext {
  std::string path, sha256, step;
  RecipeVars vars;
};
// The step being run by `modelpress run`, or nullptr outside a recipe.
const RecipeContext* active_recipe();
// Makes `context` the active recipe for its lifetime.
class ActiveRecipeScope {
 public:
  explicit ActiveRecipeScope(const RecipeContext& context);
  ~ActiveRecipeScope();
  ActiveRecipeScope(const ActiveRecipeScope&) = delete;
  ActiveRecipeScope& operator=(const ActiveRecipeScope&) = delete;

 private:
  const RecipeContext* previous_;
};

}  // namespace mp
