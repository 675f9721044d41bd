// Where the paths a recipe names may lead (docs/recipes.md, "Paths"): a recipe comes from anywhere,
// so the files it reads and writes on its own stay inside its directory; anything else is a path
// the user gave with --set.
#pragma once
#include <filesystem>
#include <string>

namespace mp {

class RecipeConfinement {
 public:
  explicit RecipeConfinement(const std::string& recipe_path);
  // A step argument `value` is taken for a path when it contains '/' or names something that
  // exists (relative to the working directory, as the tool reads it). Such a value must resolve,
  // `..` applied and symlinks followed, inside the recipe's directory, or inside `explicit_prefix`
  // when it starts with it: the value of a --set variable (`${out}/model.gguf` with --set out=DIR).
  // Otherwise bad input naming `where`.
  void check(const std::string& value, const std::string& explicit_prefix, const std::string& where) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace mp
