// Large blocks freed back to the heap for the next allocation instead of returned to the kernel.
//
// glibc serves every block above its mmap threshold (at most 32 MiB by default) with a fresh mmap
// and unmaps it on free, so a training step that allocates and frees the same few hundred MB of
// activations, gradients and optimizer temporaries pays a page fault for every 4 KiB of them every
// step. On the 2-core development machine that cost 1.5 s per 400 MB (20 rounds of malloc, memset
// and free of 400 MB in C: 30.4 s, against 1.6 s with these settings), and it was most of the AdamW
// step of a 100M-parameter student (docs/performance.md, "Training against PyTorch").
#pragma once

namespace mp {

// Raises glibc's mmap and trim thresholds to 1 GiB for the rest of the process: blocks up to that
// size come from and return to the heap. Memory freed this way stays in the process (it is reused,
// not returned), so only steady loops whose blocks keep their sizes should ask for it: distill-train
// and decoding (lib/runtime/kept_layers.h). The quantizers' layers, whose blocks change size from
// phase to phase, fragmented it (lib/base/huge_page_tensor.h).
// A no-op without glibc.
void keep_freed_memory_for_reuse();

}  // namespace mp
