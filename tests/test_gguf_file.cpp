// The GGUF container: reading llama.cpp's own files, writer -> reader round trips, and one test per
// validation error on small hand-built broken files.
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "distill/token_dataset.h"
#include "formats/gguf_codecs.h"
#include "formats/gguf_file.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors.h"
#include "lib/base/error.h"
#include "lib/base/mapped_file.h"
#include "tests/test_support.h"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using mp::GgmlType;
using mp::GgufType;
using mp::GgufValue;

namespace {

bool same_bytes(const std::string& a, const std::string& b) {
  const mp::MappedFile fa(a), fb(b);
  return fa.size() == fb.size() && std::memcmp(fa.data(), fb.data(), fa.size()) == 0;
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A GGUF file assembled byte by byte, independently of the writer, so each field can be broken.
struct RawGguf {
  std::string bytes;
  template <class T>
  RawGguf& put(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  RawGguf& str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes += s;
    return *this;
  }
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    bytes += "GGUF";
    return put(version).put(n_tensors).put(n_kv);
  }
  RawGguf& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) put(d);
    return put(type).put(offset);
  }
  RawGguf& pad(size_t alignment = 32) {
    while (bytes.size() % alignment) bytes += '\0';
    return *this;
  }
  RawGguf& data(size_t n) {
    bytes.append(n, '\x01');
    return *this;
  }
};

// A valid file: one UINT32 key, one f32 tensor of 4 x 8 values.
RawGguf small_valid_file() {
  RawGguf f;
  f.header(1, 1).str("general.answer").put<uint32_t>(4).put<uint32_t>(42);
  f.tensor("t", {8, 4}, 0, 0).pad().data(4 * 8 * 4);
  return f;
}

// The message GgufFile gives for `bytes`, checked to be a one-line bad-input error naming the file.
std::string read_error(const mp::test::ScratchDir& dir, const std::string& bytes) {
  const std::string path = dir.path("broken.gguf");
  spit(path, bytes);
  try {
    mp::GgufFile file(path);
  } catch (const mp::Error& e) {
    const std::string message = e.what();
    CHECK(e.code() == mp::ExitCode::bad_input);
    CHECK_THAT(message, StartsWith(path + ": "));
    CHECK(message.find('\n') == std::string::npos);
    return message;
  }
  FAIL("no error reading a broken file");
  return "";
}

}  // namespace

TEST_CASE("gguf reader: llama.cpp's stories260K export", "[gguf]") {
  const mp::GgufFile file(mp::test::shared_path("models/stories260K-llamacpp-f32.gguf"));
  CHECK(file.version() == 3);
  // gguf-dump lists 28 keys: these 25 plus its pseudo-keys GGUF.version, GGUF.tensor_count, GGUF.kv_count.
  CHECK(file.metadata().size() == 25);
  CHECK(file.tensors().size() == 47);
  CHECK(file.alignment() == 32);

  CHECK(file.find("general.architecture")->as_string() == "llama");
  CHECK(file.find("llama.block_count")->type() == GgufType::UINT32);
  CHECK(file.find("llama.block_count")->as_uint() == 5);
  CHECK(file.find("llama.feed_forward_length")->as_uint() == 172);
  const GgufValue* eps = file.find("llama.attention.layer_norm_rms_epsilon");
  CHECK(eps->type() == GgufType::FLOAT32);
  CHECK(eps->as_float() == static_cast<double>(1e-5f));
  CHECK(file.find("tokenizer.ggml.add_bos_token")->type() == GgufType::BOOL);
  CHECK(file.find("tokenizer.ggml.add_bos_token")->as_bool());
  const GgufValue* tokens = file.find("tokenizer.ggml.tokens");
  CHECK(tokens->type() == GgufType::ARRAY);
  CHECK(tokens->element_type() == GgufType::STRING);
  REQUIRE(tokens->as_array().size() == 512);
  CHECK(tokens->as_array()[1].as_string() == "<s>");
  CHECK(file.find("tokenizer.ggml.scores")->element_type() == GgufType::FLOAT32);
  CHECK(file.find("tokenizer.ggml.token_type")->element_type() == GgufType::INT32);
  CHECK(file.find("output.weight") == nullptr);

  // Tensors come back in PyTorch order and equal the HF checkpoint they were converted from.
  const mp::SafetensorsFile hf(mp::test::shared_path("models/stories260K/model.safetensors"));
  const std::pair<const char*, const char*> same[] = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight"},
      {"blk.4.attn_v.weight", "model.layers.4.self_attn.v_proj.weight"},
      {"output_norm.weight", "model.norm.weight"}};
  for (const auto& [gguf_name, hf_name] : same) {
    const mp::GgufTensorInfo* info = file.find_tensor(gguf_name);
    REQUIRE(info);
    CHECK(info->type == GgmlType::F32);
    const at::Tensor expected = hf.tensor(*hf.find(hf_name));
    INFO(gguf_name);
    CHECK(info->shape() == expected.sizes().vec());
    CHECK(at::equal(file.tensor(*info), expected));
  }
  CHECK(file.find_tensor("token_embd.weight")->dims == std::vector<int64_t>{64, 512});
}

TEST_CASE("gguf reader: a vocabulary-only file without tensors", "[gguf]") {
  const mp::GgufFile file(mp::test::shared_path("tokenizer-vectors/ggml-vocab-llama-spm.gguf"));
  CHECK(file.tensors().empty());
  CHECK(file.metadata().size() == 22);
  CHECK(file.find("tokenizer.ggml.tokens")->as_array().size() == 32000);
  CHECK(file.find("tokenizer.ggml.unknown_token_id")->type() == GgufType::UINT32);
  CHECK(file.find("tokenizer.ggml.model")->as_string() == "llama");
}

TEST_CASE("gguf reader: tensors of types without a codec are listed, and decoding one is bad input", "[gguf]") {
  mp::test::ScratchDir dir;
  RawGguf f;
  f.header(1, 0).tensor("w", {256, 2}, 16, 0).pad().data(2 * 66);  // iq2_xxs: 66 bytes per 256
  spit(dir.path("iq2.gguf"), f.bytes);
  const mp::GgufFile file(dir.path("iq2.gguf"));
  CHECK(file.tensors()[0].type == GgmlType::IQ2_XXS);
  CHECK(file.tensors()[0].bytes == 132);
  try {
    (void)file.tensor(file.tensors()[0]);
    FAIL("decoded");
  } catch (const mp::Error& e) {
    CHECK(e.code() == mp::ExitCode::bad_input);
    CHECK_THAT(e.what(), Contains("iq2.gguf") && Contains("tensor 'w' is iq2_xxs, which modelpress does not decode"));
  }
}

TEST_CASE("gguf writer: rewriting llama.cpp's file reproduces it byte for byte", "[gguf]") {
  const std::string original = mp::test::shared_path("models/stories260K-llamacpp-f32.gguf");
  const mp::GgufFile in(original);
  mp::test::ScratchDir dir;
  mp::GgufWriter out(dir.path("copy.gguf"));
  for (const auto& [key, value] : in.metadata()) out.add_metadata(key, value);
  for (const auto& t : in.tensors()) out.add_tensor(t.name, t.shape(), t.type);
  for (const auto& t : in.tensors()) out.write_tensor(in.tensor(t));
  out.commit();
  CHECK(same_bytes(dir.path("copy.gguf"), original));
}

TEST_CASE("gguf writer -> reader round trip of every value type and several tensor types", "[gguf]") {
  std::vector<std::pair<std::string, GgufValue>> metadata = {
      {"u8", GgufValue::unsigned_int(GgufType::UINT8, 255)},
      {"i8", GgufValue::signed_int(GgufType::INT8, -128)},
      {"u16", GgufValue::unsigned_int(GgufType::UINT16, 65535)},
      {"i16", GgufValue::signed_int(GgufType::INT16, -32768)},
      {"u32", GgufValue::uint32(4000000000u)},
      {"i32", GgufValue::int32(-2000000000)},
      {"f32", GgufValue::float32(0.1f)},
      {"bool", GgufValue::boolean(true)},
      {"string", GgufValue::string("héllo\nworld")},
      {"empty string", GgufValue::string("")},
      {"u64", GgufValue::unsigned_int(GgufType::UINT64, UINT64_MAX)},
      {"i64", GgufValue::signed_int(GgufType::INT64, INT64_MIN)},
      {"f64", GgufValue::floating(GgufType::FLOAT64, 1.0 / 3)},
      {"strings", GgufValue::array(GgufType::STRING, {GgufValue::string("a"), GgufValue::string("")})},
      {"empty", GgufValue::array(GgufType::FLOAT32, {})},
      {"nested",
       GgufValue::array(GgufType::ARRAY,
                        {GgufValue::array(GgufType::INT16, {GgufValue::signed_int(GgufType::INT16, -7)}),
                         GgufValue::array(GgufType::BOOL, {GgufValue::boolean(false)})})},
  };
  const std::pair<GgmlType, std::vector<int64_t>> layout[] = {
      {GgmlType::F32, {3, 5}},   {GgmlType::F16, {2, 32}},        {GgmlType::BF16, {7}},
      {GgmlType::Q4_0, {2, 64}}, {GgmlType::Q8_0, {32}},          {GgmlType::Q4_K, {2, 256}},
      {GgmlType::Q6_K, {256}},   {GgmlType::IQ4_XS, {1, 1, 256}},
  };
  for (const uint32_t alignment : {0u, 64u}) {  // 0: the default
    mp::test::ScratchDir dir;
    const std::string path = dir.path("round.gguf");
    std::vector<at::Tensor> values;
    {
      mp::GgufWriter out(path);
      for (const auto& [key, value] : metadata) out.add_metadata(key, value);
      if (alignment) out.add_metadata("general.alignment", GgufValue::uint32(alignment));
      for (size_t i = 0; i < std::size(layout); ++i)
        out.add_tensor("tensor." + std::to_string(i), layout[i].second, layout[i].first);
      at::manual_seed(1);
      for (const auto& entry : layout) {
        values.push_back(at::randn(entry.second));
        out.write_tensor(values.back());
      }
      out.commit();
    }
    const mp::GgufFile in(path);
    CHECK(in.alignment() == (alignment ? alignment : 32));
    REQUIRE(in.metadata().size() == metadata.size() + (alignment ? 1 : 0));
    for (size_t i = 0; i < metadata.size(); ++i) {
      INFO(metadata[i].first);
      CHECK(in.metadata()[i].first == metadata[i].first);
      CHECK(in.metadata()[i].second.type() == metadata[i].second.type());
      CHECK(in.metadata()[i].second == metadata[i].second);
    }
    REQUIRE(in.tensors().size() == std::size(layout));
    for (size_t i = 0; i < std::size(layout); ++i) {
      const auto& t = in.tensors()[i];
      INFO(t.name);
      CHECK(t.type == layout[i].first);
      CHECK(t.shape() == layout[i].second);
      CHECK(t.offset % in.alignment() == 0);
      CHECK((in.data_offset() + t.offset) % in.alignment() == 0);
      // What comes back is what the codec makes of the values, row by row.
      const at::Tensor x = values[i].contiguous();
      const int64_t row = x.size(-1);
      std::vector<uint8_t> bytes(mp::ggml_row_bytes(t.type, row));
      at::Tensor expected = at::empty_like(x);
      for (int64_t r = 0; r < x.numel() / row; ++r) {
        mp::quantize_row(t.type, x.data_ptr<float>() + r * row, bytes.data(), row);
        mp::dequantize_row(t.type, bytes.data(), expected.data_ptr<float>() + r * row, row);
      }
      CHECK(at::equal(in.tensor(t), expected));
    }
    CHECK(at::equal(in.tensor(in.tensors()[0]), values[0]));  // f32 is stored exactly
  }
}

TEST_CASE("gguf writer: a tensor encoded in several f32 chunks equals each row encoded alone", "[gguf]") {
  // 256-wide rows are converted 65536 at a time, so these 65539 bf16 rows cross a chunk boundary.
  mp::test::ScratchDir dir;
  at::manual_seed(3);
  const at::Tensor values = (at::randn({65539, 256}) * 0.02).to(at::kBFloat16);
  const at::Tensor f32 = values.to(at::kFloat).contiguous();
  const uint64_t row_bytes = mp::ggml_row_bytes(GgmlType::Q8_0, 256);
  std::vector<uint8_t> expected(row_bytes * 65539);
  for (int64_t r = 0; r < 65539; ++r)
    mp::quantize_row(GgmlType::Q8_0, f32.data_ptr<float>() + r * 256, expected.data() + r * row_bytes, 256);
  {
    mp::GgufWriter writer(dir.path("chunks.gguf"));
    writer.add_tensor("big", {65539, 256}, GgmlType::Q8_0);
    writer.write_tensor(values);
    writer.commit();
  }
  const mp::GgufFile file(dir.path("chunks.gguf"));
  const mp::GgufTensorInfo* big = file.find_tensor("big");
  REQUIRE(big != nullptr);
  CHECK(std::memcmp(file.bytes(*big), expected.data(), expected.size()) == 0);
}

TEST_CASE("gguf writer refuses inconsistent use", "[gguf]") {
  mp::test::ScratchDir dir;
  mp::GgufWriter out(dir.path("x.gguf"));
  out.add_tensor("a", {4, 32}, GgmlType::Q4_0);
  CHECK_THROWS_AS(out.add_tensor("a", {32}, GgmlType::F32), mp::Error);                   // duplicate
  CHECK_THROWS_AS(out.add_tensor("b", {4, 31}, GgmlType::Q4_0), mp::Error);               // partial block
  CHECK_THROWS_AS(out.add_tensor(std::string(64, 'n'), {32}, GgmlType::F32), mp::Error);  // name too long
  CHECK_THROWS_AS(out.add_metadata("general.alignment", GgufValue::uint32(48)),
                  mp::Error);  // not a power of 2
  CHECK_THROWS_AS(GgufValue::unsigned_int(GgufType::UINT8, 256), mp::Error);
  CHECK_THROWS_AS(out.write_tensor(at::zeros({4, 64})), mp::Error);  // wrong shape
  CHECK_THROWS_AS(out.commit(), mp::Error);                          // tensor missing
  CHECK_FALSE(std::filesystem::exists(dir.path("x.gguf")));
}

TEST_CASE("gguf reader: every defect is a one-line bad-input error", "[gguf]") {
  mp::test::ScratchDir dir;
  // The valid base really is valid.
  spit(dir.path("ok.gguf"), small_valid_file().bytes);
  CHECK(mp::GgufFile(dir.path("ok.gguf")).tensors().size() == 1);

  CHECK_THAT(read_error(dir, "GGUX" + small_valid_file().bytes.substr(4)),
             Contains("not a GGUF file (bad magic)"));
  CHECK_THAT(read_error(dir, "GG"), Contains("bad magic"));
  CHECK_THAT(read_error(dir, RawGguf().header(0, 0, 1).bytes), Contains("unsupported GGUF version 1"));
  CHECK_THAT(read_error(dir, RawGguf().header(0, 1ull << 60).bytes),
             Contains("metadata count 1152921504606846976 exceeds"));
  CHECK_THAT(read_error(dir, RawGguf().header(1ull << 62, 0).pad(64).bytes),
             Contains("tensor count 4611686018427387904 exceeds"));
  {
    RawGguf f;
    f.header(0, 1).put<uint64_t>(1000).bytes += "general.short_key";
    CHECK_THAT(read_error(dir, f.bytes), Contains("claims 1000 bytes, past the end of the file"));
  }
  {
    RawGguf f;
    f.header(0, 1).str("k").put<uint32_t>(13).put<uint64_t>(0);
    CHECK_THAT(read_error(dir, f.bytes), Contains("metadata 'k' has unknown value type 13"));
  }
  {
    RawGguf f;  // names from the file are escaped: the message stays one line
    f.header(0, 1).str("bad\nkey").put<uint32_t>(42).put<uint64_t>(0);
    CHECK_THAT(read_error(dir, f.bytes), Contains("metadata 'bad\\x0akey' has unknown value type 42"));
  }
  {
    RawGguf f;  // an array of strings whose count cannot fit
    f.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1000);
    CHECK_THAT(read_error(dir, f.bytes), Contains("element count of array 'k' 1000 exceeds"));
  }
  {
    RawGguf f;
    f.header(0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(48);
    CHECK_THAT(read_error(dir, f.bytes), Contains("general.alignment must be a non-zero power of two"));
  }
  {
    RawGguf f;
    f.header(0, 2).str("k").put<uint32_t>(7).put<uint8_t>(1).str("k").put<uint32_t>(7).put<uint8_t>(0);
    CHECK_THAT(read_error(dir, f.bytes), Contains("duplicate metadata key 'k'"));
  }
  auto one_tensor = [](std::vector<uint64_t> dims, uint32_t type, uint64_t offset, size_t data) {
    RawGguf f;
    f.header(1, 0).tensor("w", std::move(dims), type, offset).pad().data(data);
    return f.bytes;
  };
  CHECK_THAT(read_error(dir, one_tensor({32}, 99, 0, 128)), Contains("tensor 'w' has unknown ggml type 99"));
  CHECK_THAT(read_error(dir, one_tensor({32, 2}, 0, 0, 128)),
             Contains("runs past the end of the data section (128 bytes)"));
  CHECK_THAT(read_error(dir, one_tensor({32}, 0, 16, 256)),
             Contains("data offset 16 is not a multiple of the alignment 32"));
  CHECK_THAT(read_error(dir, one_tensor({1ull << 32, 1ull << 32}, 0, 0, 32)), Contains("overflows"));
  CHECK_THAT(read_error(dir, one_tensor({1ull << 62}, 0, 0, 32)), Contains("byte size that overflows"));
  CHECK_THAT(read_error(dir, one_tensor({48, 2}, 2, 0, 64)),
             Contains("rows of 48 values, not a multiple of the q4_0 block size 32"));
  CHECK_THAT(read_error(dir, one_tensor({1, 1, 1, 1, 1}, 0, 0, 32)),
             Contains("has 5 dimensions (at most 4)"));
  CHECK_THAT(read_error(dir, one_tensor({1ull << 63}, 0, 0, 32)), Contains("out of range"));

  // Cut anywhere before the end of its data, the valid file is truncated somewhere.
  const std::string whole = small_valid_file().bytes;
  for (size_t cut = 4; cut < whole.size(); ++cut) {
    INFO("cut at " << cut);
    const std::string message = read_error(dir, whole.substr(0, cut));
    const bool named = message.find("truncated") != std::string::npos ||
                       message.find("past the end") != std::string::npos ||
                       message.find("exceeds") != std::string::npos;
    CHECK(named);
  }
}

TEST_CASE("modelpress inspect lists a GGUF file", "[gguf]") {
  const std::string path = mp::test::shared_path("models/stories260K-llamacpp-f32.gguf");
  const auto text = mp::test::run_modelpress("inspect '" + path + "'");
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.out, Contains("(gguf)"));
  CHECK_THAT(text.out, Contains("llama.block_count = 5\n"));
  CHECK_THAT(text.out, Contains("tokenizer.ggml.tokens = [\"<unk>\", \"<s>\", \"</s>\""));
  CHECK_THAT(text.out, Contains("...] (512 x STRING)"));
  CHECK_THAT(text.out, Contains("token_embd.weight"));
  CHECK_THAT(text.out, Contains("[512 x 64] 131072 bytes"));
  CHECK_THAT(text.out, Contains("47 tensors"));

  const auto json = mp::test::run_modelpress("inspect --json '" + path + "'");
  REQUIRE(json.exit_code == 0);
  const auto j = nlohmann::json::parse(json.out);
  CHECK(j["format"] == "gguf");
  CHECK(j["tensor_count"] == 47);
  CHECK(j["metadata"]["general.architecture"] == "llama");
  CHECK(j["tensors"][0]["dtype"] == "f32");

  mp::test::ScratchDir dir;
  spit(dir.path("bad.gguf"), "GGUF" + std::string(4, '\x07'));
  const auto bad = mp::test::run_modelpress("inspect '" + dir.path("bad.gguf") + "'");
  CHECK(bad.exit_code == static_cast<int>(mp::ExitCode::bad_input));
  CHECK_THAT(bad.err, Contains("unsupported GGUF version"));

  // A token dataset is refused as what it is, not read as a safetensors header of absurd length.
  {
    mp::TokenDatasetWriter writer(dir.path("tokens.h5"), "tok");
    writer.add_document({1, 2, 3});
    writer.commit();
  }
  const auto h5 = mp::test::run_modelpress("inspect '" + dir.path("tokens.h5") + "'");
  CHECK(h5.exit_code == static_cast<int>(mp::ExitCode::bad_input));
  CHECK_THAT(h5.err, Contains("tokens.h5: an HDF5 file"));
}
