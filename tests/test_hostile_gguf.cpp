// GGUF files whose metadata a mutation run changed: values no model can have are refused with exit
// code 3 and one line naming the file and the key, instead of NaN perplexities.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <tuple>

#include "formats/gguf_file.h"
#include "lib/base/error.h"
#include "tests/hostile_inputs.h"

using mp::test::quoted;

namespace {

// Overwrites the 4-byte value of metadata `key` (a GGUF key string, then its u32 type, then the value).
void patch_value(const std::string& path, const std::string& key, const void* value) {
  std::string bytes = mp::test::read_file(path);
  const size_t at = bytes.find(key);
  REQUIRE(at != std::string::npos);
  std::memcpy(&bytes[at + key.size() + 4], value, 4);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

TEST_CASE("hostile gguf: NaN epsilon, infinite rope base, rope dimension 0 are refused", "[hostile]") {
  mp::test::ScratchDir dir;
  const std::string good = dir.path("good.gguf");
  REQUIRE(mp::test::run_modelpress("export -q --type F32 -m " + quoted(mp::test::shared_path("models/stories260K")) +
                                   " -o " + quoted(good)).exit_code == 0);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const uint32_t zero = 0;
  const std::vector<std::tuple<std::string, const void*, std::string>> patches = {
      {"llama.attention.layer_norm_rms_epsilon", &nan, "rms_norm_eps"},
      {"llama.rope.freq_base", &inf, "rope_theta"},
      {"llama.rope.dimension_count", &zero, "llama.rope.dimension_count"},
  };
  for (const auto& [key, value, field] : patches) {
    INFO(key);
    const std::string broken = dir.path("broken.gguf");
    std::ofstream(broken, std::ios::binary | std::ios::trunc) << mp::test::read_file(good);
    patch_value(broken, key, value);
    mp::test::require_bad_input(
        mp::test::run_modelpress("eval -q -m " + quoted(broken) + " -f " +
                                 quoted(mp::test::shared_path("corpora/tinystories/eval.txt")) + " --ctx 64 --chunks 1"),
        "broken.gguf", field);
  }
}

TEST_CASE("hostile gguf: a zero dimension does not hide dimensions whose product overflows", "[hostile]") {
  // fuzz_gguf: dims [0, 2^62, 2^40] passed the overflow check (the running product was 0), and
  // LibTorch's "Storage size calculation overflowed" reached the top when the tensor was read.
  mp::test::ScratchDir dir;
  const std::string path = dir.path("zero.gguf");
  {
    std::ofstream out(path, std::ios::binary);
    auto put = [&](auto v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); };
    out << "GGUF";
    put(uint32_t{3});
    put(uint64_t{1});  // tensors
    put(uint64_t{0});  // metadata
    put(uint64_t{1});
    out << "t";
    put(uint32_t{3});
    for (uint64_t d : {uint64_t{0}, uint64_t{1} << 62, uint64_t{1} << 40}) put(d);
    put(uint32_t{0});  // F32
    put(uint64_t{0});  // offset
    out << std::string(32, '\0');
  }
  try {
    const mp::GgufFile file(path);
    FAIL("accepted");
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    CHECK_THAT(e.what(), Catch::Contains("zero.gguf") && Catch::Contains("overflows"));
  }
}
