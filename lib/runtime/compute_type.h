// What `--dtype auto` (the default of eval, compare, generate and speculate) computes in: bf16 where
// the hardware multiplies bf16 natively, f32 elsewhere. bf16 halves the bytes every matrix product
// reads and, with native instructions, runs 2-3x faster than f32 on CPU; emulated it is slower than
// f32, so the choice depends on the machine (docs/performance.md, "The compute type").
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace mp {

// The CPU features `flags` lists (the "flags" line of /proc/cpuinfo, space-separated) include a
// native bf16 matrix product: AVX512-BF16 (`avx512_bf16`) or AMX-BF16 (`amx_bf16`).
bool cpu_flags_have_native_bf16(const std::string& flags);

// The "flags" line of this machine's /proc/cpuinfo (the first processor's), "" if there is none.
std::string cpu_flags();

// The choice for `device`: on CPU bf16 if cpu_flags() have it natively; on CUDA bf16 from compute
// capability 8 (Ampere) on. The tools report what they ran in (eval's report, generate's summary).
at::ScalarType auto_compute_type(const at::Device& device);

// "f32", "bf16" or "f16": how --dtype spells a compute type.
std::string compute_type_name(at::ScalarType dtype);

}  // namespace mp
