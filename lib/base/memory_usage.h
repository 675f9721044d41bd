// This process's resident memory from /proc/self/status (Linux): what benchmarks report and what the
// streaming test bounds. Zero where /proc is unavailable.
#pragma once
#include <cstdint>

namespace mp {

int64_t resident_bytes();       // VmRSS: now
int64_t peak_resident_bytes();  // VmHWM: the most since start or since reset_peak_resident()
// Starts a new peak from the current resident size (writes "5" to /proc/self/clear_refs).
void reset_peak_resident();

}  // namespace mp
