#include "formats/gguf_type_losses.h"

#include <ATen/Parallel.h>
#include <algorithm>

#include "formats/gguf_codecs.h"
#include "lib/base/error.h"

namespace mp {

at::Tensor encode_decode(const at::Tensor& weights, GgmlType type, const float* importance) {
  const at::Tensor w = weights.to(at::kFloat).contiguous();
  const int64_t rows = w.size(0), cols = w.size(1);
  const uint64_t row_bytes = ggml_row_bytes(type, cols);
  at::Tensor decoded = at::empty_like(w);
  const float* in = w.data_ptr<float>();
  float* out = decoded.data_ptr<float>();
  at::parallel_for(0, rows, std::max<int64_t>(1, (int64_t{1} << 16) / cols), [&](int64_t begin, int64_t end) {
    std::vector<uint8_t> block(row_bytes);
    for (int64_t r = begin; r < end; ++r) {
      quantize_row(type, in + r * cols, block.data(), cols, importance);
      dequantize_row(type, block.data(), out + r * cols, cols);
    }
  });
  return decoded;
}

std::vector<double> column_squared_errors(const at::Tensor& weights, GgmlType type, const float* importance) {
  const at::Tensor w = weights.to(at::kFloat).contiguous();
  const at::Tensor decoded = encode_decode(w, type, importance);
  const int64_t rows = w.size(0), cols = w.size(1);
  const float* in = w.data_ptr<float>();
  const float* out = decoded.data_ptr<float>();
  std::vector<double> errors(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i) {
      const double d = static_cast<double>(in[r * cols + i]) - out[r * cols + i];
      errors[i] += d * d;
    }
  return errors;
}

std::vector<double> column_energies(const at::Tensor& weights) {
  const at::Tensor w = weights.to(at::kFloat).contiguous();
  const int64_t rows = w.size(0), cols = w.size(1);
  const float* in = w.data_ptr<float>();
  std::vector<double> energies(cols, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i) energies[i] += static_cast<double>(in[r * cols + i]) * in[r * cols + i];
  return energies;
}

double weighted_error(const std::vector<double>& errors, const std::vector<float>& column_weights) {
  if (errors.size() != column_weights.size()) fail_runtime("weighted_error: sizes differ");
  double total = 0;
  for (size_t i = 0; i < errors.size(); ++i) total += column_weights[i] * errors[i];
  return total;
}

}  // namespace mp
