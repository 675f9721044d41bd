// The scale searches of ggml's k-quants (internal to the block codecs). Each picks a block scale (and
// for the asymmetric ones a minimum) and the integer levels L that go with it. Names and parameters
// follow ggml-quants.c so the arithmetic, and therefore every output byte, matches it exactly.
#pragma once
#include <cstdint>

namespace mp::gguf_blocks {

// ggml treats a group whose largest magnitude is below this as all zeros.
constexpr float kGroupMaxEps = 1e-15f;

// Symmetric levels in [-nmax, nmax-1], stored as L = level + nmax; weighted least squares over 19
// candidate scales. `weights` nullptr means x² (ggml's rmse_type 1). Returns the scale.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* weights);

// Symmetric levels for q3_K's reference quantizer: start from the max-based scale, then move single
// levels while that improves the x²-weighted fit. L = level + nmax. Returns the scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);

// Asymmetric levels in [0, nmax]: x ≈ scale * L - the_min. Tries nstep+1 scales around nmax/(max-min)
// and keeps the weighted least-squares fit (absolute error when use_mad). Returns the scale; stores
// the (non-negative) minimum in *the_min. This is make_qkx2_quants and, with weights always given,
// make_qkx3_quants.
float make_qkx_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                      float rmin, float rdelta, int nstep, bool use_mad);

// Levels in [0, nmax] for non-negative values (the sub-block scales and mins of the k-quants when an
// importance matrix is given). Returns the scale.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* weights);

}  // namespace mp::gguf_blocks
