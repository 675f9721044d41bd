#include "tests/tree_hash.h"

#include <filesystem>

#include "lib/base/sha256.h"

namespace fs = std::filesystem;

namespace mp::test {

std::map<std::string, std::string> hash_tree(const std::string& dir) {
  std::map<std::string, std::string> hashes;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != "manifest.json")
      hashes[fs::relative(e.path(), dir).string()] = sha256_file(e.path().string());
  return hashes;
}

}  // namespace mp::test
