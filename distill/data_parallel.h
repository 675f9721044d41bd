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
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher = "single";  // "torchrun", "slurm" or "single"
};

// Reads the environment; malformed values are bad input naming the variable.
WorldInfo world_from_environment();

class DataParallel {
 public:
  // Joins the process group (Gloo on CPU; NCCL on CUDA is not in this CPU-only LibTorch build, so a
  // CUDA device with more than one process is refused). With size 1 nothing is started.
  DataParallel(const WorldInfo& world, const at::Device& device);
  ~DataParallel();
  int rank() const { return world_.rank; }
  int size() const { return world_.size; }
  bool is_writer() const { return world_.rank == 0; }

  // In place: every tensor becomes the sum of its values over all processes.
  void all_reduce_sum(std::vector<at::Tensor>& tensors);
  // Every process receives rank 0's values (used once, so all ranks start from the same weights).
  void broadcast_from_writer(std::vector<at::Tensor>& tensors);
  void barrier();

 private:
  struct Group;
  WorldInfo world_;
  std::unique_ptr<Group> group_;
};

}  // namespace mp
