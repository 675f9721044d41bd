#include "formats/gguf_rows.h"

#include <ATen/Parallel.h>

#include <vector>

#include "formats/gguf_codecs.h"
#include "lib/base/error.h"

namespace mp {

namespace {

// Decodes `count` rows of `row` values: output row k is stored row rows[k] (k when rows is null).
// Rows decode independently, on all threads. bf16 goes through a per-task f32 buffer of a few rows:
// on a 7B layer a whole f32 copy is 180 MB of fresh pages per tensor, and faulting them in cost
// more than the decoding (docs/performance.md, "Memory of eval").
void decode_rows(const GgmlType type, const uint8_t* src, int64_t row, const int64_t* rows, int64_t count,
                 at::Tensor& out) {
  const uint64_t row_bytes = ggml_row_bytes(type, row);
  const int64_t rows_per_task = std::max<int64_t>(1, (1 << 16) / row);
  const bool to_float = out.scalar_type() == at::kFloat;
  at::parallel_for(0, count, rows_per_task, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(to_float ? 0 : row);
    for (int64_t k = begin; k < end; ++k) {
      const uint8_t* from = src + (rows ? rows[k] : k) * row_bytes;
      if (to_float) {
        dequantize_row(type, from, out.data_ptr<float>() + k * row, row);
        continue;
      }
      dequantize_row(type, from, scratch.data(), row);
      c10::BFloat16* dst = out.data_ptr<c10::BFloat16>() + k * row;
      // c10::BFloat16(float) rounds to nearest even, as LibTorch's f32 -> bf16 cast does.
      for (int64_t j = 0; j < row; ++j) dst[j] = c10::BFloat16(scratch[j]);
    }
  });
}

// A file may hold any ggml type (llama.cpp writes the i-quants too): one modelpress cannot decode
// is a property of the input, so it is reported as bad input naming the file and the tensor.
void check_decodable(const GgufFile& file, const GgufTensorInfo& info, at::ScalarType dtype) {
  if (!has_codec(info.type))
    fail_input(file.path(), "tensor " + quote_gguf_name(info.name) + " is " + ggml_type_name(info.type) +
                                ", which modelpress does not decode (docs/gguf.md lists the types it does)");
  if (dtype != at::kFloat && dtype != at::kBFloat16)
    fail_runtime("GGUF tensor " + info.name + ": decodes to f32 or bf16, not " + std::string(c10::toString(dtype)));
}

int64_t row_length(const GgufTensorInfo& info) { return info.dims.empty() ? 1 : info.dims[0]; }

}  // namespace

at::Tensor gguf_decode(const GgufFile& file, const GgufTensorInfo& info, at::ScalarType dtype) {
  check_decodable(file, info, dtype);
  at::Tensor out = at::empty(info.shape(), dtype);
  if (out.numel() == 0) return out;
  const int64_t row = row_length(info);
  decode_rows(info.type, file.bytes(info), row, nullptr, out.numel() / row, out);
  return out;
}

at::Tensor gguf_decode_rows(const GgufFile& file, const GgufTensorInfo& info, const at::Tensor& rows,
                            at::ScalarType dtype) {
  check_decodable(file, info, dtype);
  const int64_t row = row_length(info);
  const int64_t stored_rows = row == 0 ? 0 : info.numel() / row;
  const at::Tensor index = rows.to(at::kLong).contiguous().reshape({-1});
  at::Tensor out = at::empty({index.numel(), row}, dtype);
  if (out.numel() == 0) return out;
  const int64_t* wanted = index.data_ptr<int64_t>();
  for (int64_t k = 0; k < index.numel(); ++k)
    if (wanted[k] < 0 || wanted[k] >= stored_rows)
      fail_runtime("GGUF tensor " + info.name + ": no row " + std::to_string(wanted[k]) + " (it has " +
                   std::to_string(stored_rows) + ")");
  decode_rows(info.type, file.bytes(info), row, wanted, index.numel(), out);
  return out;
}

}  // namespace mp
