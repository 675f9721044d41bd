// Data-parallel training over torch.distributed (c10d): every process computes gradients on its own
// share of the batch, then the gradients are summed across processes. The world is described by
// torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or Slurm's (SLURM_PROCID,
// SLURM_NTASKS, with MASTER_ADDR/MASTER_PORT or defaults); without either, one process.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace mp {

struct WorldInfo {
  int rank = 0, size = 1;
  int local_rank = 0;  // the process's index on its host: LOCAL_RANK (torchrun) or SLURM_LOCALID
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher = "single";  // "torchrun", "slurm" or "single"
};

// Reads the environment; malformed values are bad input naming the variable.
WorldInfo world_from_environment();

// The collective backend: Gloo (CPU tensors), NCCL (CUDA tensors; only in builds where LibTorch has
// CUDA and c10d's NCCL, see nccl_unavailable_reason()), or auto: NCCL on CUDA, Gloo on CPU.
enum class CommBackend { automatic, gloo, nccl };
CommBackend parse_comm_backend(const std::string& name);  // "auto", "gloo", "nccl"; else bad input
// Empty when this build has the NCCL backend; otherwise why not (decided when CMake configured).
std::string nccl_unavailable_reason();

// The device a process trains on: a bare "cuda" becomes cuda:LOCAL_RANK in a multi-process world
// (one GPU per process on each host); an explicit index or the CPU is kept.
at::Device device_for_process(const WorldInfo& world, const at::Device& requested);

class DataParallel {
 public:
  // Joins the process group of `backend` for tensors on `device`. With size 1 nothing is started.
  // NCCL where the build lacks it, or a backend that cannot hold tensors of `device`, is refused.
  DataParallel(const WorldInfo& world, const at::Device& device, CommBackend backend = CommBackend::automatic);
  ~DataParallel();
  int rank() const { return world_.rank; }
  int size() const { return world_.size; }
  const char* backend_name() const { return backend_name_; }  // "gloo", "nccl" or "none" (one process)
  bool is_writer() const { return world_.rank == 0; }

  // In place: every tensor becomes the sum of its values over all processes.
  void all_reduce_sum(std::vector<at::Tensor>& tensors);
  // Every process receives rank 0's values (used once, so all ranks start from the same weights).
  void broadcast_from_writer(std::vector<at::Tensor>& tensors);
  void barrier();

 private:
  struct Group;
  WorldInfo world_;
  const char* backend_name_ = "none";
  std::unique_ptr<Group> group_;
};

}  // namespace mp
