#include "lib/base/memory_usage.h"

#include <fstream>
#include <string>

namespace mp {

namespace {

int64_t status_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  return 0;
}

}  // namespace

int64_t resident_bytes() { return status_kib("VmRSS") * 1024; }

int64_t peak_resident_bytes() { return status_kib("VmHWM") * 1024; }

void reset_peak_resident() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace mp
