// `modelpress distill-train` end to end: resolve the student, the data and the teacher signal
// (building the teacher cache on the way when asked), then train (distill/trainer.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "distill/fake_quantizer.h"
#include "distill/losses.h"
#include "distill/trainer.h"
#include "lib/runtime/runtime.h"

namespace mp {

struct DistillTrainRequest {
  // Student: exactly one of these.
  std::string student;                   // an HF directory to continue training
  std::string student_config;            // a config.json: random init from seed
  bool init_from_teacher = false;        // with keep_layers: teacher layers subset
  std::vector<int64_t> keep_layers;
  std::string tokenizer;                 // for student_config: the directory holding tokenizer.json or tokenizer.model

  std::string teacher;                   // HF directory; without it (and without a cache): CE only
  std::string cache_teacher;             // teacher cache .h5: built (resumably) if absent, then used
  int64_t cache_k = 32;
  std::string cache_logprobs = "f16";    // f16 or f32
  bool cache_only = false;               // stop once the cache exists

  // Quantization-aware training (docs/qad.md): the target grid ("gguf:Q2_K", "gptq:w4g128"), and
  // the model whose weights start the masters (a GPTQ GGUF of that type, say); empty: none.
  std::string quantize;
  std::string init_weights;
  // "frozen": keep the block parameters --init-weights (a GGUF) stores, re-level only the codes;
  // "hybrid": per super-block the better of those and the search's own on the current weights;
  // "rechosen": the encoder's search on every forward. Empty: frozen when --init-weights is a
  // GGUF file, else rechosen (docs/qad.md says why).
  std::string grid;
  // Every tensor gets the type the GGUF --init-weights stores it in (a size-targeted file), not
  // the mix's; the --quantize type then only labels the file.
  bool types_from_init = false;

  std::string data, eval_data;           // .h5 token datasets, or text files tokenized into --out
  DistillOptions distill;
  TrainOptions train;
  RuntimeSettings runtime;
  std::string backend = "auto";          // collectives across processes: gloo, nccl or auto
};

struct DistillTrainReport {
  TrainSummary train;
  std::string signal;
  int64_t student_parameters = 0;
  double cache_bytes_per_token = 0;  // on disk, when a teacher cache is used
  int64_t cache_tokens = 0;
  int rank = 0, world_size = 1;
  std::string backend;                   // "gloo", "nccl", or "none" for one process
  // With --quantize: the quantized file written from the final masters, how many tensors it
  // rounds per grid, and the tensors stored on another grid than the target asks for.
  std::string quantized_out;
  std::map<std::string, int64_t> quantized_grids;
  std::string grid;             // "frozen", "hybrid" or "rechosen"
  int64_t frozen_tensors = 0;   // tensors whose grid parameters came (frozen, or in part: hybrid) from --init-weights
  std::vector<QuantizeFallback> quantize_fallbacks;
};

DistillTrainReport run_distill_train(const DistillTrainRequest& request);

}  // namespace mp
