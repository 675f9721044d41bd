// Where a process is in the data-parallel world, from torchrun's or Slurm's variables; which device
// it trains on; which collective backend it gets, and the refusal of one this build lacks.
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

void check_world(const std::string& launcher, int rank, int size, const std::string& addr, int port,
                 int local_rank = 0) {
  const mp::WorldInfo w = mp::world_from_environment();
  CHECK(w.local_rank == local_rank);
  CHECK(w.launcher == launcher);
  CHECK(w.rank == rank);
  CHECK(w.size == size);
  CHECK(w.master_addr == addr);
  CHECK(w.master_port == port);
}

}  // namespace

TEST_CASE("world from torchrun and Slurm variables", "[distill][distributed]") {
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS",
                        "SLURM_LOCALID"})
    REQUIRE(std::getenv(v) == nullptr);  // the test owns these
  check_world("single", 0, 1, "127.0.0.1", 29500);
  {
    Env env;
    env.set("RANK", "3");
    env.set("WORLD_SIZE", "4");
    env.set("MASTER_ADDR", "10.0.0.7");
    env.set("MASTER_PORT", "1234");
    env.set("LOCAL_RANK", "1");
    env.set("SLURM_PROCID", "0");  // torchrun's variables win inside a Slurm allocation
    env.set("SLURM_NTASKS", "1");
    env.set("SLURM_LOCALID", "0");
    check_world("torchrun", 3, 4, "10.0.0.7", 1234, 1);
  }
  {
    Env env;
    env.set("SLURM_PROCID", "1");
    env.set("SLURM_NTASKS", "2");
    env.set("SLURM_LOCALID", "1");
    check_world("slurm", 1, 2, "127.0.0.1", 29500, 1);
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

TEST_CASE("each process of a CUDA world gets the GPU of its local rank", "[distill][distributed]") {
  mp::WorldInfo w;
  w.size = 4;
  w.rank = 3;
  w.local_rank = 1;
  CHECK(mp::device_for_process(w, at::Device("cuda")) == at::Device("cuda:1"));
  CHECK(mp::device_for_process(w, at::Device("cuda:3")) == at::Device("cuda:3"));  // explicit: kept
  CHECK(mp::device_for_process(w, at::Device("cpu")) == at::Device("cpu"));
  w.size = 1;
  w.rank = w.local_rank = 0;
  CHECK(mp::device_for_process(w, at::Device("cuda")) == at::Device("cuda"));  // one process: as given
}

TEST_CASE("collective backends: parsing, one process needs none, NCCL refused naming the reason", "[distill][distributed]") {
  CHECK(mp::parse_comm_backend("auto") == mp::CommBackend::automatic);
  CHECK(mp::parse_comm_backend("gloo") == mp::CommBackend::gloo);
  CHECK(mp::parse_comm_backend("nccl") == mp::CommBackend::nccl);
  CHECK_THROWS_WITH(mp::parse_comm_backend("mpi"), Catch::Contains("--backend") && Catch::Contains("mpi"));

  CHECK(std::string(mp::DataParallel(mp::WorldInfo{}, at::kCPU, mp::CommBackend::nccl).backend_name()) == "none");
  // Two processes: each refusal comes before any connection is attempted.
  mp::WorldInfo two;
  two.size = 2;
  CHECK_THROWS_WITH(mp::DataParallel(two, at::kCPU, mp::CommBackend::nccl), Catch::Contains("--backend"));
  CHECK_THROWS_WITH(mp::DataParallel(two, at::Device("cuda:0"), mp::CommBackend::gloo), Catch::Contains("--backend"));
  const std::string reason = mp::nccl_unavailable_reason();
  if (!reason.empty()) {  // this build (Debian's CPU-only LibTorch): the reason reaches the user
    CHECK_THROWS_WITH(mp::DataParallel(two, at::kCPU, mp::CommBackend::nccl), Catch::Contains(reason));
    CHECK_THROWS_WITH(mp::DataParallel(two, at::Device("cuda:0"), mp::CommBackend::automatic),
                      Catch::Contains("--device") && Catch::Contains(reason));
  }
}
