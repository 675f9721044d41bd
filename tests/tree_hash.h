// sha256 of every file under a directory, for tests that compare whole outputs byte for byte.
#pragma once
#include <map>
#include <string>

namespace mp::test {

// By relative path; manifest.json is left out (its run section holds wall-clock times).
std::map<std::string, std::string> hash_tree(const std::string& dir);

}  // namespace mp::test
