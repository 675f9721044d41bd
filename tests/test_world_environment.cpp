// Where a process is in the data-parallel world, from torchrun's or Slurm's variables.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "distill/data_parallel.h"

namespace {

// Sets variables for one test and removes them afterwards, leaving the process as it was.
struct Env {
  std::vector<std::string> names;
  void set(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    names.push_back(name);
  }
  ~Env() {
    for (const auto& n : names) unsetenv(n.c_str());
  }
};

}  // namespace

TEST_CASE("world from torchrun and Slurm variables", "[distill][distributed]") {
  for (const char* v : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS"})
    REQUIRE(std::getenv(v) == nullptr);  // the test owns these
  {
    const mp::WorldInfo w = mp::world_from_environment();
    CHECK(w.size == 1);
    CHECK(w.launcher == "single");
  }
  {
    Env env;
    env.set("RANK", "3");
    env.set("WORLD_SIZE", "4");
    env.set("MASTER_ADDR", "10.0.0.7");
    env.set("MASTER_PORT", "1234");
    env.set("SLURM_PROCID", "0");  // torchrun's variables win inside a Slurm allocation
    env.set("SLURM_NTASKS", "1");
    const mp::WorldInfo w = mp::world_from_environment();
    CHECK(w.launcher == "torchrun");
    CHECK(w.rank == 3);
    CHECK(w.size == 4);
    CHECK(w.master_addr == "10.0.0.7");
    CHECK(w.master_port == 1234);
  }
  {
    Env env;
    env.set("SLURM_PROCID", "1");
    env.set("SLURM_NTASKS", "2");
    const mp::WorldInfo w = mp::world_from_environment();
    CHECK(w.launcher == "slurm");
    CHECK(w.rank == 1);
    CHECK(w.size == 2);
    CHECK(w.master_addr == "127.0.0.1");
    CHECK(w.master_port == 29500);
  }
  {
    Env env;
    env.set("RANK", "2");
    env.set("WORLD_SIZE", "2");
    CHECK_THROWS_WITH(mp::world_from_environment(), Catch::Contains("$RANK"));
    env.set("RANK", "x");
    CHECK_THROWS_WITH(mp::world_from_environment(), Catch::Contains("$RANK"));
  }
}
