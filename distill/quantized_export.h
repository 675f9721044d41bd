// The file a quantization-aware run ends with (docs/qad.md): its final masters, read back from the
// HF directory the trainer saved, quantized by the same code that rounded them in training, so
// the file holds exactly the codes of their last fake quantization. A GGUF target goes through
// `export --type` (no importance matrix, the codecs' own search; tensors on a frozen grid packed
// from their stored parameters), a GPTQ target through RTN on the affine grid into an HF GPTQ
// checkpoint.
#pragma once
#include <string>

#include "distill/fake_quantizer.h"

namespace mp {

// Writes OUT/model-TYPE.gguf or the directory OUT/gptq-wBgG from the HF model in `model_dir`
// (= OUT); returns the path written. `grid_from`: the GGUF whose stored block parameters the
// run's grids were frozen to (FakeQuantizer::freeze_grids), empty if none; those tensors are
// written with these parameters and the codes levelled on them, as training rounded them; with
// per_block_better, per super-block those or the search's own, as the hybrid grid rounds
// (better_grid_per_block). The target's allocation (--types-from-init) gives the tensor types.
std::string export_quantized_student(const QuantizeTarget& target, const std::string& model_dir,
                                     const std::string& grid_from, bool per_block_better = false);

}  // namespace mp
