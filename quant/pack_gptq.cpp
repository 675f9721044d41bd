#include "quant/pack_gptq.h"

#include "lib/base/error.h"
#include "quant/affine_grid.h"
#include "quant/bit_packing.h"

namespace mp {
namespace {

void check_bits(int bits) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    fail_runtime("HF GPTQ stores 2, 3, 4 or 8 bits, not " + std::to_string(bits));
}

int64_t stored_zero_offset(GptqCheckpointFormat format) {
  return format == GptqCheckpointFormat::gptq ? 1 : 0;
}

}  // namespace

GptqTensors pack_gptq(const QuantizedLinear& layer, GptqCheckpointFormat format) {
  check_bits(layer.bits());
  const at::Tensor scales = layer.scales.to(at::kHalf);
  if (!at::equal(scales.to(at::kFloat), layer.scales))
    fail_runtime("GPTQ packing: scales are not fp16 values; quantize with fp16 scales");
  const at::Tensor zeros = layer.integer_zeros() - stored_zero_offset(format);
  if (zeros.numel() > 0 && zeros.min().item<int>() < 0)
    fail_runtime(
        "GPTQ packing: a zero point of 0 cannot be stored in checkpoint_format gptq "
        "(it stores zero - 1); use gptq_v2");
  return {pack_bits(layer.codes.t(), layer.bits(), 0), pack_bits(zeros.t(), layer.bits(), 1),
          scales.t().contiguous(), layer.g_idx.to(at::kInt)};
}

void check_gptq_tensors(const GptqTensors& t, int bits, const std::string& where) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    fail_input(where, "GPTQ stores 2, 3, 4 or 8 bits, not " + std::to_string(bits));
  auto shape_problem = [&](const char* name, const at::Tensor& x, int64_t dims) {
    if (x.dim() != dims)
      fail_input(where + "." + name, "has shape " + c10::str(x.sizes()) + ", expected " + std::to_string(dims) + "-D");
  };
  shape_problem("qweight", t.qweight, 2);
  shape_problem("qzeros", t.qzeros, 2);
  shape_problem("scales", t.scales, 2);
  shape_problem("g_idx", t.g_idx, 1);
  for (auto [name, x] : {std::pair{"qweight", &t.qweight}, {"qzeros", &t.qzeros}, {"g_idx", &t.g_idx}})
    if (x->scalar_type() != at::kInt) fail_input(where + "." + name, "must be int32 for GPTQ");
  const int64_t in = t.g_idx.size(0), out = t.scales.size(1), groups = t.scales.size(0);
  // Packed length along a dimension of `count` codes, when whole runs of words hold them.
  auto packed = [&](int64_t count) {
    return count % codes_per_word_run(bits) == 0 ? count / codes_per_word_run(bits) * words_per_word_run(bits) : -1;
  };
  auto expect = [&](const char* name, const at::Tensor& x, std::vector<int64_t> shape) {
    if (x.sizes() != at::IntArrayRef(shape))
      fail_input(where + "." + name, "has shape " + c10::str(x.sizes()) + ", expected " + c10::str(at::IntArrayRef(shape)) +
                                         " for " + std::to_string(bits) + "-bit codes of the " + std::to_string(in) +
                                         " inputs of g_idx, the " + std::to_string(out) + " outputs and " +
                                         std::to_string(groups) + " groups of scales");
  };
  expect("qweight", t.qweight, {packed(in), out});
  expect("qzeros", t.qzeros, {groups, packed(out)});
  if (in > 0 && (t.g_idx.min().item<int64_t>() < 0 || t.g_idx.max().item<int64_t>() >= groups))
    fail_input(where + ".g_idx", "holds a group index outside [0, " + std::to_string(groups) + ")");
}

QuantizedLinear unpack_gptq(const GptqTensors& tensors, int bits, int64_t group_size, bool sym,
                            GptqCheckpointFormat format) {
  check_bits(bits);
  const int64_t in = tensors.g_idx.size(0), out = tensors.scales.size(1);
  AffineGridOptions options;
  options.bits = bits;
  options.group_size = group_size;
  options.sym = sym;
  const at::Tensor zeros = unpack_bits(tensors.qzeros, bits, 1, out) + stored_zero_offset(format);
  return {unpack_bits(tensors.qweight, bits, 0, in).t().contiguous(),
          tensors.scales.to(at::kFloat).t().contiguous(), zeros.to(at::kFloat).t().contiguous(),
          tensors.g_idx.to(at::kInt), std::make_shared<AffineGrid>(options)};
}

}  // namespace mp
