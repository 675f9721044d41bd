// The one file that sees c10d. Its Gloo declarations need USE_C10D_GLOO, which Torch's CMake
// config defines because the Debian LibTorch was built with Gloo (libtorch_cpu exports
// ProcessGroupGloo and TCPStore). The NCCL backend is compiled only where CMake found a CUDA
// LibTorch with c10d's NCCL (MODELPRESS_HAVE_NCCL); the Debian build is CPU-only.
#include "distill/data_parallel.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef MODELPRESS_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>

#include "lib/base/error.h"

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
    w.local_rank = env_int("LOCAL_RANK", 0);
    if (const char* addr = env("MASTER_ADDR")) w.master_addr = addr;
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    w.launcher = "slurm";
    w.rank = env_int("SLURM_PROCID", 0);
    w.size = env_int("SLURM_NTASKS", 1);
    w.local_rank = env_int("SLURM_LOCALID", 0);
    w.master_addr = slurm_master(w.size);
  }
  w.master_port = env_int("MASTER_PORT", w.master_port);
  if (w.size < 1 || w.rank >= w.size)
    fail_input("$RANK", "rank " + std::to_string(w.rank) + " outside a world of " + std::to_string(w.size));
  if (w.master_port > 65535) fail_input("$MASTER_PORT", "not a port number");
  return w;
}

CommBackend parse_comm_backend(const std::string& name) {
  if (name == "auto") return CommBackend::automatic;
  if (name == "gloo") return CommBackend::gloo;
  if (name == "nccl") return CommBackend::nccl;
  fail_input("--backend", "use gloo, nccl or auto, not '" + name + "'");
}

std::string nccl_unavailable_reason() {
#ifdef MODELPRESS_HAVE_NCCL
  return "";
#else
  return MODELPRESS_NCCL_MISSING;
#endif
}

at::Device device_for_process(const WorldInfo& world, const at::Device& requested) {
  if (!requested.is_cuda() || requested.has_index() || world.size == 1) return requested;
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(world.local_rank));
}

struct DataParallel::Group {
  c10::intrusive_ptr<c10d::ProcessGroup> group;
  std::vector<int64_t> barrier_devices;  // NCCL: the process's GPU, so the barrier does not guess
};

namespace {

c10::intrusive_ptr<c10d::ProcessGroup> gloo_group(const c10::intrusive_ptr<c10d::Store>& store, const WorldInfo& w) {
  auto options = c10d::ProcessGroupGloo::Options::create();
  // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; otherwise this host's address.
  if (const char* iface = env("GLOO_SOCKET_IFNAME"))
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, w.rank, w.size, options);
}

c10::intrusive_ptr<c10d::ProcessGroup> nccl_group(const c10::intrusive_ptr<c10d::Store>& store, const WorldInfo& w) {
#ifdef MODELPRESS_HAVE_NCCL
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, w.rank, w.size, c10d::ProcessGroupNCCL::Options::create());
#else
  fail_input("--backend", "nccl is not in this build: " + nccl_unavailable_reason());
#endif
}

}  // namespace

DataParallel::DataParallel(const WorldInfo& world, const at::Device& device, CommBackend backend) : world_(world) {
  if (world.size == 1) return;
  if (backend == CommBackend::automatic) backend = device.is_cuda() ? CommBackend::nccl : CommBackend::gloo;
  if (backend == CommBackend::nccl) {
    if (!nccl_unavailable_reason().empty())
      fail_input(device.is_cuda() ? "--device" : "--backend",
                 "multi-process training on " + device.str() + " needs NCCL, which is not in this build: " +
                     nccl_unavailable_reason() + " (Gloo runs on --device cpu)");
    if (!device.is_cuda()) fail_input("--backend", "nccl reduces CUDA tensors; use --device cuda or --backend gloo");
  } else if (!device.is_cpu()) {
    fail_input("--backend", "gloo reduces CPU tensors here; use --backend nccl (or auto) with --device " + device.str());
  }
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(world.master_port);
  store_options.isServer = world.rank == 0;
  store_options.numWorkers = static_cast<size_t>(world.size);
  auto store = c10::make_intrusive<c10d::PrefixStore>(
      "modelpress", c10::make_intrusive<c10d::TCPStore>(world.master_addr, store_options));
  group_ = std::make_unique<Group>();
  if (backend == CommBackend::nccl) {
    group_->group = nccl_group(store, world);
    group_->barrier_devices = {device.index()};
    backend_name_ = "nccl";
  } else {
    group_->group = gloo_group(store, world);
    backend_name_ = "gloo";
  }
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
  group_->group->allreduce(flat)->wait();
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
    group_->group->broadcast(one)->wait();
  }
}

void DataParallel::barrier() {
  if (!group_) return;
  c10d::BarrierOptions options;
  options.device_ids = group_->barrier_devices;
  group_->group->barrier(options)->wait();
}

}  // namespace mp
