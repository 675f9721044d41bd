#include "lib/runtime/installed_file.h"

#include <unistd.h>

#include <climits>

namespace mp {

std::filesystem::path installed_file(const std::string& name) {
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return name;
  exe[n] = '\0';
  const std::filesystem::path bin = std::filesystem::path(exe).parent_path();
  const std::filesystem::path beside = bin / name;
  const std::filesystem::path installed = bin.parent_path() / "lib" / "modelpress" / name;
  return std::filesystem::exists(beside) || !std::filesystem::exists(installed) ? beside : installed;
}

}  // namespace mp
