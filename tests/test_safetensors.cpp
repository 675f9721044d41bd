// safetensors: round trips, sharded checkpoints, and one clear error per kind of broken file.
#include <fstream>

#include "formats/safetensors.h"
#include "lib/base/error.h"
#include "tests/test_support.h"

using namespace mp;

namespace {

void write_raw(const std::string& path, const std::string& header, const std::string& data, int64_t header_len = -1) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = header_len >= 0 ? static_cast<uint64_t>(header_len) : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header << data;
}

// Expects reading `path` to fail as bad input with a one-line message naming the file and `what`.
void expect_rejected(const std::string& path, const std::string& what) {
  try {
    SafetensorsFile f(path);
    FAIL("accepted a broken file: " << what);
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(e.code() == ExitCode::bad_input);
    CHECK(msg.rfind(path + ": ", 0) == 0);
    CHECK(msg.find(what) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

}  // namespace

TEST_CASE("safetensors round trip of every dtype with metadata", "[safetensors]") {
  test::ScratchDir dir;
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f64", at::randn({3, 2}, at::kDouble)},
      {"f32", at::randn({4, 5})},
      {"f16", at::randn({7}).to(at::kHalf)},
      {"bf16", at::randn({2, 3, 2}).to(at::kBFloat16)},
      {"i64", at::randint(-1000, 1000, {5}, at::kLong)},
      {"i32", at::randint(-1000, 1000, {2, 2}, at::kInt)},
      {"i16", at::randint(-1000, 1000, {3}, at::kShort)},
      {"i8", at::randint(-100, 100, {9}, at::kChar)},
      {"u8", at::randint(0, 255, {4}, at::kByte)},
      {"bool", at::randint(0, 2, {6}, at::kLong).to(at::kBool)},
      {"scalar", at::tensor(3.5f).reshape({})},
      {"empty", at::empty({0, 4})},
  };
  const std::string path = dir.path("all.safetensors");
  save_safetensors(path, tensors, {{"format", "pt"}, {"note", "round trip"}});
  SafetensorsFile f(path);
  CHECK(f.metadata().at("note") == "round trip");
  REQUIRE(f.tensors().size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    const TensorInfo* info = f.find(name);
    REQUIRE(info != nullptr);
    at::Tensor back = f.tensor(*info);
    CHECK(back.scalar_type() == t.scalar_type());
    CHECK(back.sizes() == t.sizes());
    CHECK(at::equal(back, t));
  }
}

TEST_CASE("sharded checkpoints resolve every tensor through the index", "[safetensors]") {
  test::ScratchDir dir;
  at::Tensor a = at::randn({3, 3}), b = at::randn({2}), c = at::arange(10, at::kInt);
  save_safetensors(dir.path("model-00001-of-00002.safetensors"), {{"a", a}, {"b", b}});
  save_safetensors(dir.path("model-00002-of-00002.safetensors"), {{"c", c}});
  std::ofstream(dir.path("model.safetensors.index.json"))
      << R"({"metadata": {"total_size": 88}, "weight_map": {"a": "model-00001-of-00002.safetensors",
            "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})";
  SafetensorsCheckpoint ckpt(dir.path());
  CHECK(ckpt.names() == std::vector<std::string>{"a", "b", "c"});
  CHECK(at::equal(ckpt.tensor("a"), a));
  CHECK(at::equal(ckpt.tensor("c"), c));
  CHECK(ckpt.files().size() == 2);

  std::ofstream(dir.path("model.safetensors.index.json"))
      << R"({"weight_map": {"a": "model-00002-of-00002.safetensors"}})";
  CHECK_THROWS_WITH(SafetensorsCheckpoint(dir.path()), Catch::Contains("listed in the index is not in this shard"));
}

TEST_CASE("broken safetensors files are rejected with one clear line", "[safetensors]") {
  test::ScratchDir dir;
  const std::string data8(8, '\0');
  auto file = [&](const char* name) { return dir.path(name); };

  std::ofstream(file("short.safetensors")) << "abc";
  expect_rejected(file("short.safetensors"), "truncated");

  write_raw(file("past_end.safetensors"), "{}", "", 4096);
  expect_rejected(file("past_end.safetensors"), "runs past the end");

  write_raw(file("huge_header.safetensors"), "{}", "", int64_t(1) << 40);
  expect_rejected(file("huge_header.safetensors"), "exceeds the 100 MiB bound");

  write_raw(file("bad_json.safetensors"), "{\"a\": [", data8);
  expect_rejected(file("bad_json.safetensors"), "not valid JSON");

  write_raw(file("out_of_range.safetensors"), R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data8);
  expect_rejected(file("out_of_range.safetensors"), "outside the data section");

  write_raw(file("overlap.safetensors"),
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8);
  expect_rejected(file("overlap.safetensors"), "overlaps");

  write_raw(file("gap.safetensors"), R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8);
  expect_rejected(file("gap.safetensors"), "gap");

  write_raw(file("span.safetensors"), R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8);
  expect_rejected(file("span.safetensors"), "need 12 bytes but data_offsets span 8");

  write_raw(file("overflow.safetensors"),
            R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data8);
  expect_rejected(file("overflow.safetensors"), "overflows");

  write_raw(file("dtype.safetensors"), R"({"a":{"dtype":"F128","shape":[1],"data_offsets":[0,8]}})", data8);
  expect_rejected(file("dtype.safetensors"), "unknown dtype");

  write_raw(file("trailing.safetensors"), R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data8);
  expect_rejected(file("trailing.safetensors"), "after the last tensor");

  write_raw(file("metadata.safetensors"), R"({"__metadata__":{"k":1}})", "");
  expect_rejected(file("metadata.safetensors"), "is not a string");
}

TEST_CASE("an unsigned tensor is listed, and reading it is bad input", "[safetensors]") {
  // fuzz_safetensors: U32 is valid safetensors, but LibTorch 1.13 has no uint32 tensors.
  test::ScratchDir dir;
  const std::string path = dir.path("u32.safetensors");
  write_raw(path, R"({"a":{"dtype":"U32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  const SafetensorsFile file(path);
  REQUIRE(file.tensors().size() == 1);
  CHECK(file.tensors()[0].dtype == DType::U32);
  try {
    (void)file.tensor(file.tensors()[0]);
    FAIL("read a U32 tensor");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::bad_input);
    CHECK_THAT(e.what(), Catch::StartsWith(path + ": tensor 'a' is U32, a type LibTorch has no tensors of"));
  }
}

TEST_CASE("the CLI reports a broken file in one line and exits with the bad-input code", "[safetensors][cli]") {
  test::ScratchDir dir;
  write_raw(dir.path("broken.safetensors"), R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
  auto r = test::run_modelpress("inspect '" + dir.path("broken.safetensors") + "'");
  CHECK(r.exit_code == 3);
  CHECK(r.out.empty());
  CHECK(r.err == "modelpress: error: " + dir.path("broken.safetensors") +
                     ": tensor 'a': shape and dtype need 12 bytes but data_offsets span 8\n");
}

TEST_CASE("an aborted writer leaves no file and never clobbers an existing one", "[safetensors]") {
  test::ScratchDir dir;
  const std::string path = dir.path("out.safetensors");
  save_safetensors(path, {{"x", at::ones({2})}});
  {
    SafetensorsWriter w(path, {describe("x", at::zeros({2})), describe("y", at::zeros({3}))});
    w.write(at::zeros({2}));
    CHECK_THROWS(w.commit());  // y was never written
  }
  SafetensorsFile f(path);
  CHECK(at::equal(f.tensor(*f.find("x")), at::ones({2})));
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.root)) entries += e.is_regular_file();
  CHECK(entries == 1);
}

TEST_CASE("released tensors are read again from the file when touched", "[safetensors]") {
  test::ScratchDir dir;
  at::Tensor big = at::randn({64, 1024});  // spans whole pages
  save_safetensors(dir.path("model.safetensors"), {{"small", at::ones({3})}, {"big", big}});
  SafetensorsCheckpoint model(dir.path());
  at::Tensor view = model.tensor("big");
  CHECK(at::equal(view, big));
  model.release("big");
  model.release("small");
  CHECK(at::equal(view, big));
  CHECK(at::equal(model.tensor("small"), at::ones({3})));
}
