// The one file that sees c10d. Its Gloo declarations need USE_C10D_GLOO, which Torch's CMake
// config defines because the Debian LibTorch was built with Gloo (libtorch_cpu exports
// ProcessGroupGloo and TCPStore).
#include "distill/data_parallel.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>

#include "lib/error.h"

namespace mp {

namespace {

const char* env(const char* name) { return std::getenv(name); }

int env_int(const char* name, int fallback) {
  const char* v = env(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0) fail_input(std::string("$") + name, std::string("not a non-negative integer: '") + v + "'");
  return static_cast<int>(x);
}

// Slurm lists nodes in compact form ("node[01-04]"); the first node is the natural master, but
// expanding the list needs scontrol, so MASTER_ADDR is required for multi-node Slurm jobs.
std::string slurm_master(int size) {
  if (const char* addr = env("MASTER_ADDR")) return addr;
  const char* nodes = env("SLURM_JOB_NUM_NODES");
  if (nodes && std::atoi(nodes) > 1 && size > 1)
    fail_input("$MASTER_ADDR", "required for a multi-node Slurm job (e.g. the first host of scontrol show hostnames)");
  return "127.0.0.1";
}

}  // namespace

WorldInfo world_from_environment() {
  WorldInfo w;
  if (env("RANK") && env("WORLD_SIZE")) {
    w.launcher = "torchrun";
    w.rank = env_int("RANK", 0);
    w.size = env_int("WORLD_SIZE", 1);
    if (const char* addr = env("MASTER_ADDR")) w.master_addr = addr;
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    w.launcher = "slurm";
    w.rank = env_int("SLURM_PROCID", 0);
    w.size = env_int("SLURM_NTASKS", 1);
    w.master_addr = slurm_master(w.size);
  }
  w.master_port = env_int("MASTER_PORT", w.master_port);
  if (w.size < 1 || w.rank >= w.size)
    fail_input("$RANK", "rank " + std::to_string(w.rank) + " outside a world of " + std::to_string(w.size));
  if (w.master_port > 65535) fail_input("$MASTER_PORT", "not a port number");
  return w;
}

struct DataParallel::Group {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

DataParallel::DataParallel(const WorldInfo& world, const at::Device& device) : world_(world) {
  if (world.size == 1) return;
  if (!device.is_cpu())
    fail_input("--device", "multi-process training runs on CPU with Gloo; NCCL needs a CUDA build of LibTorch");
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(world.master_port);
  store_options.isServer = world.rank == 0;
  store_options.numWorkers = static_cast<size_t>(world.size);
  auto store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options);
  auto options = c10d::ProcessGroupGloo::Options::create();
  // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; otherwise this host's address.
  if (const char* iface = env("GLOO_SOCKET_IFNAME"))
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  group_ = std::make_unique<Group>();
  group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
      c10::make_intrusive<c10d::PrefixStore>("modelpress", store), world.rank, world.size, options);
}

DataParallel::~DataParallel() = default;

void DataParallel::all_reduce_sum(std::vector<at::Tensor>& tensors) {
  if (!group_ || tensors.empty()) return;
  // One flat buffer: a single collective instead of one per parameter.
  std::vector<at::Tensor> flat{at::cat([&] {
    std::vector<at::Tensor> views;
    for (const auto& t : tensors) views.push_back(t.reshape({-1}));
    return views;
  }())};
  group_->gloo->allreduce(flat)->wait();
  int64_t offset = 0;
  for (auto& t : tensors) {
    t.copy_(flat[0].narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
}

void DataParallel::broadcast_from_writer(std::vector<at::Tensor>& tensors) {
  if (!group_) return;
  for (auto& t : tensors) {
    std::vector<at::Tensor> one{t};
    group_->gloo->broadcast(one)->wait();
  }
}

void DataParallel::barrier() {
  if (group_) group_->gloo->barrier()->wait();
}

}  // namespace mp
