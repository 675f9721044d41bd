// --dtype auto: bf16 exactly where the CPU multiplies bf16 natively (lib/runtime/compute_type.h),
// forced types still forced, and the tools record what they ran in.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "lib/runtime/compute_type.h"
#include "lib/runtime/llama_model.h"
#include "tests/test_support.h"

namespace mp {

namespace {

// Whether /proc/cpuinfo names `flag` as a whole word anywhere: read here without cpu_flags().
bool cpuinfo_has(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string word; in >> word;)
    if (word == flag) return true;
  return false;
}

}  // namespace

TEST_CASE("compute type: bf16 only for CPU flag sets with a native bf16 product", "[compute_type]") {
  // This machine (AMD Zen 4-class EPYC): AVX512-BF16.
  CHECK(cpu_flags_have_native_bf16(" fpu vme avx2 avx512f avx512bw avx512vl avx_vnni avx512_bf16 clzero"));
  // Sapphire Rapids lists both; AMX alone is enough.
  CHECK(cpu_flags_have_native_bf16("avx512f avx512_bf16 amx_bf16 amx_tile amx_int8"));
  CHECK(cpu_flags_have_native_bf16("avx512f amx_tile amx_bf16"));
  // Skylake-X / Ice Lake: AVX-512 with VNNI but no bf16; AVX2-only laptops; ARM; nothing.
  CHECK_FALSE(cpu_flags_have_native_bf16("fpu avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni"));
  CHECK_FALSE(cpu_flags_have_native_bf16("fpu sse4_2 avx avx2 fma f16c"));
  CHECK_FALSE(cpu_flags_have_native_bf16("fp asimd evtstrm aes pmull sha1 sha2 crc32"));
  CHECK_FALSE(cpu_flags_have_native_bf16(""));
  // Whole words only: a flag that merely contains the name, or AMX without its bf16 part.
  CHECK_FALSE(cpu_flags_have_native_bf16("avx512_bf16x amx_tile amx_int8 xamx_bf16"));
}

TEST_CASE("compute type: auto follows this machine's /proc/cpuinfo; f32 and bf16 are forced", "[compute_type]") {
  const bool native = cpuinfo_has("avx512_bf16") || cpuinfo_has("amx_bf16");
  CHECK(cpu_flags_have_native_bf16(cpu_flags()) == native);
  CHECK(auto_compute_type(at::kCPU) == (native ? at::kBFloat16 : at::kFloat));
  CHECK(parse_runtime_options("cpu", "auto").dtype == auto_compute_type(at::kCPU));
  CHECK(parse_runtime_options("cpu", "f32").dtype == at::kFloat);
  CHECK(parse_runtime_options("cpu", "bf16").dtype == at::kBFloat16);
  CHECK(compute_type_name(at::kBFloat16) == "bf16");
  CHECK(compute_type_name(at::kFloat) == "f32");
}

TEST_CASE("eval: the default is --dtype auto and the report says which type ran", "[compute_type][eval][cli]") {
  const std::string native = auto_compute_type(at::kCPU) == at::kBFloat16 ? "bf16" : "f32";
  const std::string eval = "eval -q --json --ctx 64 --chunks 2 --threads 1 -m '" + test::shared_path("models/stories260K") +
                           "' -f '" + test::shared_path("corpora/tinystories/eval.txt") + "'";
  const auto by_default = test::run_modelpress(eval);
  const auto f32 = test::run_modelpress(eval + " --dtype f32");
  const auto bf16 = test::run_modelpress(eval + " --dtype bf16");
  REQUIRE(by_default.exit_code == 0);
  REQUIRE(f32.exit_code == 0);
  REQUIRE(bf16.exit_code == 0);
  const auto d = nlohmann::json::parse(by_default.out), f = nlohmann::json::parse(f32.out), b = nlohmann::json::parse(bf16.out);
  CHECK(d["compute_type"] == native);
  CHECK(f["compute_type"] == "f32");
  CHECK(b["compute_type"] == "bf16");
  // The two types give different perplexities, and the default gives the chosen one's exactly.
  CHECK(f["ppl"] != b["ppl"]);
  CHECK(d["ppl"] == (native == "bf16" ? b["ppl"] : f["ppl"]));
}

}  // namespace mp
