// Progress rates stay readable from tokens per second down to layers per hour.
#include <catch2/catch.hpp>

#include "lib/base/progress.h"

using namespace mp;

TEST_CASE("format_rate picks seconds, minutes or hours so that a slow job still shows a rate", "[progress]") {
  CHECK(format_rate(1234.56, "tokens") == "1234.6 tokens/s");
  CHECK(format_rate(0.1, "prompts") == "0.1 prompts/s");
  CHECK(format_rate(0.05, "steps") == "3.0 steps/min");
  CHECK(format_rate(1.0 / 900, "layers") == "4.0 layers/h");  // a 1B layer at full calibration
  CHECK(format_rate(0, "layers") == "0.0 layers/s");
}
