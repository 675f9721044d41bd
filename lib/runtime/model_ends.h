// The model's two ends read from the stored form: the token embedding and the LM head are never
// converted whole to the compute type. A lookup converts only the rows of its tokens; the logits are
// computed a chunk of vocabulary rows at a time (convert the chunk, multiply, drop it). Each logit
// depends only on its own head row: in bf16 the values are the whole-matrix path's; in f32 OpenBLAS
// may round a chunk's products differently in the last bits (tests/test_model_ends.cpp bounds it). What a 7B model saves: 32000 × 4096 in f32 is 500 MiB, twice untied
// (docs/performance.md, "Memory of eval").
// Rows come from ModelSource::tensor_rows (a GGUF decodes just those rows from its blocks).
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "lib/runtime/model_source.h"

namespace mp {

// The LM head's tensor: lm_head.weight, or the token embedding when they are tied.
const char* head_tensor_name(const ModelSource& source);

// Token embeddings [B, T, hidden] of tokens [B, T] (scaled where the config says so), on `device`.
at::Tensor lookup_embeddings(const ModelSource& source, const at::Tensor& tokens, at::ScalarType dtype,
                             at::Device device);

// Rows per chunk of the LM head: 16 MiB of f32 values, below glibc's largest mmap threshold
// (32 MiB), so after the first chunk the next ones reuse its heap memory instead of faulting in
// fresh pages every time.
int64_t head_chunk_rows(const ModelConfig& config);

// f32 logits [..., vocab] of the last hidden states: final norm, then the head `chunk_rows` rows at a
// time in `dtype` on the device of `hidden`.
at::Tensor chunked_logits(const ModelSource& source, const at::Tensor& hidden, const at::Tensor& final_norm,
                          at::ScalarType dtype, int64_t chunk_rows);

}  // namespace mp
