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

void check_world(const std::string& launcher, int rank, int size, const std::string& addr, int port) {
  const mp::WorldInfo w = mp::world_from_environment();
  CHECK(w.launcher == launcher);
  CHECK(w.rank == rank);
  CHECK(w.size == size);
  CHECK(w.master_addr == addr);
  CHECK(w.master_port == port);
}

}  // namespace

TEST_CASE("world from torchrun and Slurm variables", "[distill][distributed]") {
  for (const char* v : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS"})
    REQUIRE(std::getenv(v) == nullptr);  // the test owns these
  check_world("single", 0, 1, "127.0.0.1", 29500);
  {
    Env env;
    env.set("RANK", "3");
    env.set("WORLD_SIZE", "4");
    env.set("MASTER_ADDR", "10.0.0.7");
    env.set("MASTER_PORT", "1234");
    env.set("SLURM_PROCID", "0");  // torchrun's variables win inside a Slurm allocation
    env.set("SLURM_NTASKS", "1");
    check_world("torchrun", 3, 4, "10.0.0.7", 1234);
  }
  {
    Env env;
    env.set("SLURM_PROCID", "1");
    env.set("SLURM_NTASKS", "2");
    check_world("slurm", 1, 2, "127.0.0.1", 29500);
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
