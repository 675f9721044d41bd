// Where the paths a recipe names may lead (docs/recipes.md, "Paths"): a recipe comes from anywhere,
// so the files it reads and writes on its own stay inside its directory; anything else is a path
// the user gave with --set.
#pragma once
#include <filesystem>
#include <string>

namespace mp {

// The type name (shown by --help) of every tool option that names a file or directory the tool
// writes: a recipe's value for one is a path even when it is a bare name.
inline constexpr const char kWrittenPathType[] = "OUTPUT";

// What a step argument is known to be. Reading a recipe, the tools' options are not known yet, so
// a value counts as a path when it contains '/' or names something that exists (relative to the
// working directory, as the tool reads it). Planning the steps, the value of an option of type
// kWrittenPathType is a path whatever it looks like ('-', standard output, aside).
enum class PathUse { if_it_looks_like_one, written };

class RecipeConfinement {
 public:
  explicit RecipeConfinement(const std::string& recipe_path);
  // A `value` that is a path must resolve, `..` applied and symlinks followed, inside the recipe's
  // directory, or inside or beside `explicit_prefix` when it starts with it: the value of a --set
  // variable (`${out}/model.gguf` or `${out}.gguf` with --set out=PATH). Otherwise bad input naming
  // `where`.
  void check(const std::string& value, const std::string& explicit_prefix, const std::string& where,
             PathUse use) const;
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace mp
