#include "lib/pipeline/recipe_paths.h"

#include <algorithm>

#include "lib/base/error.h"

namespace fs = std::filesystem;

namespace mp {

namespace {

// The path a tool would open: symlinks of the part that exists followed, `.` and `..` applied.
fs::path resolved(const std::string& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  if (ec) return fs::path(path).lexically_normal();
  const fs::path canonical = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : canonical;
}

bool inside(const fs::path& path, const fs::path& root) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (r->empty()) continue;  // the trailing "" of a directory written with a final '/'
    if (p == path.end() || *p != *r) return false;
  }
  return true;
}

// `${out}.gguf` with --set out=DIR/run: a name that extends the user's, in the same directory.
bool beside(const fs::path& value, const fs::path& explicit_prefix) {
  return value.parent_path() == explicit_prefix.parent_path() && value.filename() != "." && value.filename() != "..";
}

bool names_something(const std::string& value) {
  if (value.empty()) return false;
  if (value.find('/') != std::string::npos) return true;
  std::error_code ec;
  return fs::symlink_status(value, ec).type() != fs::file_type::not_found && !ec;
}

}  // namespace

RecipeConfinement::RecipeConfinement(const std::string& recipe_path)
    : root_(resolved(fs::path(resolved(recipe_path)).parent_path().string())) {}

void RecipeConfinement::check(const std::string& value, const std::string& explicit_prefix,
                              const std::string& where, PathUse use) const {
  if (use == PathUse::written ? value.empty() || value == "-" : !names_something(value)) return;
  const fs::path path = resolved(value);
  if (inside(path, root_)) return;
  if (!explicit_prefix.empty() && value.compare(0, explicit_prefix.size(), explicit_prefix) == 0 &&
      (inside(path, resolved(explicit_prefix)) || beside(value, explicit_prefix)))
    return;
  fail_input(where, "'" + value + "' leads outside the recipe's directory (" + root_.string() +
                        "); a recipe reaches other files only through paths given with --set");
}

}  // namespace mp
