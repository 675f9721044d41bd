// GGUF encoding on several threads: the same bytes as encoding row by row on one.
#include <ATen/Parallel.h>

#include <filesystem>

#include "formats/gguf_codecs.h"
#include "formats/gguf_file.h"
#include "formats/gguf_writer.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

// Restores LibTorch's thread count when the test ends, however it ends.
struct ThreadCount {
  explicit ThreadCount(int n) : previous(at::get_num_threads()) { at::set_num_threads(n); }
  ~ThreadCount() { at::set_num_threads(previous); }
  int previous;
};

// The file's tensor data section: everything after the header.
std::string tensor_data(const std::string& path) {
  const GgufFile file(path);
  return test::read_file(path).substr(file.data_offset());
}

}  // namespace

TEST_CASE("gguf writer: rows encoded on 2 threads equal a row-by-row encoding", "[gguf][threads]") {
  // 600 rows of 256: several row blocks, so two threads really split the tensor.
  at::manual_seed(11);
  const at::Tensor values = at::randn({600, 256});
  const at::Tensor importance = at::rand({256}) + 0.1;
  for (GgmlType type : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::IQ4_XS, GgmlType::Q4_0}) {
    INFO(ggml_type_name(type));
    const uint64_t row_bytes = ggml_row_bytes(type, 256);
    std::string expected(600 * row_bytes, '\0');
    for (int64_t r = 0; r < 600; ++r)
      quantize_row(type, values[r].data_ptr<float>(), reinterpret_cast<uint8_t*>(&expected[r * row_bytes]), 256,
                   importance.data_ptr<float>());

    test::ScratchDir dir;
    {
      const ThreadCount two(2);
      GgufWriter out(dir.path("t.gguf"));
      out.add_tensor("t", {600, 256}, type);
      out.write_tensor(values, importance.data_ptr<float>());
      out.commit();
    }
    CHECK(tensor_data(dir.path("t.gguf")).substr(0, expected.size()) == expected);
  }
}

TEST_CASE("modelpress export --threads 1 and --threads 2 write the same tensor bytes", "[gguf_export][cli][threads]") {
  test::ScratchDir dir;
  test::write_random_model(dir.path("m"), test::kquant_config(), 7);
  std::filesystem::copy_file(test::shared_path("models/stories260K/tokenizer.model"), dir.path("m/tokenizer.model"));
  for (const std::string type : {"Q4_K_M", "IQ4_XS", "Q8_0"}) {
    INFO(type);
    for (const std::string threads : {"1", "2"}) {
      const auto r = test::run_modelpress("export -q --type " + type + " --threads " + threads + " -m '" +
                                          dir.path("m") + "' -o '" + dir.path(threads + ".gguf") + "'");
      REQUIRE(r.exit_code == 0);
    }
    // Only the recorded command line (in the header) differs.
    const std::string one = tensor_data(dir.path("1.gguf")), two = tensor_data(dir.path("2.gguf"));
    CHECK(one.size() > 100000);
    CHECK(one == two);
  }
}
