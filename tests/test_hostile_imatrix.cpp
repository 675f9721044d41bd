// Importance matrices whose sizes the fuzzer changed: refused as bad input before anything is
// allocated for them.
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>

#include "tests/hostile_inputs.h"

using mp::test::quoted;

TEST_CASE("hostile imatrix: a legacy .dat declaring 2^31 values in 20 bytes is refused before allocating", "[hostile]") {
  // fuzz_imatrix: the value count was trusted, so 8 GB were allocated and zeroed before the read
  // found the file too short (a 10 s timeout under the fuzzer, std::bad_alloc under a memory limit).
  mp::test::ScratchDir dir;
  const std::string dat = dir.path("huge.dat");
  {
    std::ofstream out(dat, std::ios::binary);
    auto i32 = [&](int32_t v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); };
    i32(1);  // one entry
    i32(4);
    out << "blk0";
    i32(1);           // calls
    i32(0x7fffffff);  // values
  }
  const auto r = mp::test::run_modelpress_after(
      mp::test::memory_limit_4gb(), "export -q --type Q4_K_M --imatrix " + quoted(dat) + " -m " +
                                quoted(mp::test::shared_path("models/stories260K")) + " -o " + quoted(dir.path("o.gguf")));
  mp::test::require_bad_input(r, "huge.dat", "values");
  mp::test::require_no_output(dir.path(), "o.gguf");
}
