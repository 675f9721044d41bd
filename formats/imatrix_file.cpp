#include "formats/imatrix_file.h"

#include <cmath>
#include <cstring>

#include "formats/gguf_file.h"
#include "formats/gguf_writer.h"
#include "lib/base/atomic_output.h"
#include "lib/base/error.h"
#include "lib/base/mapped_file.h"
#include "lib/pipeline/provenance.h"

namespace mp {

namespace {

const std::string kSums = ".in_sum2", kCounts = ".counts";

// Reads the legacy layout front to back; every length is checked against what is left.
class DatReader {
 public:
  explicit DatReader(const MappedFile& file) : file_(file) {}
  bool at_end() const { return pos_ == file_.size(); }
  int32_t i32(const std::string& what) {
    int32_t v;
    take(&v, sizeof v, what);
    return v;
  }
  std::string text(int32_t length, const std::string& what) {
    if (length < 0) fail(what + " has a negative length");
    require(static_cast<uint64_t>(length), what);  // before allocating: a length may not exceed the file
    std::string s(static_cast<size_t>(length), '\0');
    take(s.data(), s.size(), what);
    return s;
  }
  std::vector<float> floats(int32_t n, const std::string& what) {
    require(static_cast<uint64_t>(n) * sizeof(float), what);
    std::vector<float> v(static_cast<size_t>(n));
    take(v.data(), v.size() * sizeof(float), what);
    return v;
  }
  [[noreturn]] void fail(const std::string& problem) const { fail_input(file_.path(), problem); }

 private:
  void require(uint64_t bytes, const std::string& what) const {
    if (bytes > file_.size() - pos_) fail("file ends inside " + what + " (offset " + std::to_string(pos_) + ")");
  }
  void take(void* out, uint64_t bytes, const std::string& what) {
    require(bytes, what);
    std::memcpy(out, file_.data() + pos_, bytes);
    pos_ += bytes;
  }
  const MappedFile& file_;
  uint64_t pos_ = 0;
};

ImportanceMatrix read_dat(const std::string& path) {
  MappedFile file(path);
  DatReader in(file);
  ImportanceMatrix m;
  m.legacy = true;
  const int32_t n = in.i32("the entry count");
  if (n < 1) in.fail("no entries (count " + std::to_string(n) + ")");
  for (int32_t i = 0; i < n; ++i) {
    const std::string entry = "entry " + std::to_string(i + 1);
    std::string name = in.text(in.i32(entry + "'s name length"), entry + "'s name");
    const int32_t ncall = in.i32(entry + "'s call count");
    const int32_t nval = in.i32(entry + "'s value count");
    if (ncall < 0 || nval < 1) in.fail(entry + " ('" + name + "') has " + std::to_string(nval) + " values and " +
                                       std::to_string(ncall) + " calls");
    if (m.entries.count(name)) in.fail("weight '" + name + "' appears twice");
    m.entries[name] = {in.floats(nval, entry + "'s values"), {ncall}};
  }
  if (!in.at_end()) {  // the trailer is optional, as for llama-quantize
    m.chunk_count = in.i32("the chunk count");
    if (!in.at_end()) {
      const int32_t length = in.i32("the dataset name length");
      if (length > 0) m.datasets.push_back(in.text(length, "the dataset name"));
    }
    if (!in.at_end()) in.fail("unexpected bytes after the dataset name");
  }
  return m;
}

uint32_t key_u32(const GgufFile& f, const char* key) {
  const GgufValue* v = f.find(key);
  if (!v) fail_input(f.path(), std::string("imatrix GGUF has no '") + key + "'");
  if (v->type() != GgufType::UINT32) fail_input(f.path(), std::string("'") + key + "' is not UINT32");
  return static_cast<uint32_t>(v->as_uint());
}

ImportanceMatrix read_gguf(const std::string& path) {
  const GgufFile f(path);
  ImportanceMatrix m;
  m.chunk_count = static_cast<int32_t>(key_u32(f, "imatrix.chunk_count"));
  m.chunk_size = static_cast<int32_t>(key_u32(f, "imatrix.chunk_size"));
  const GgufValue* datasets = f.find("imatrix.datasets");
  if (!datasets || datasets->type() != GgufType::ARRAY || datasets->element_type() != GgufType::STRING)
    fail_input(path, "imatrix GGUF has no string array 'imatrix.datasets'");
  for (const GgufValue& d : datasets->as_array()) m.datasets.push_back(d.as_string());
  std::map<std::string, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> parts;
  for (const GgufTensorInfo& t : f.tensors()) {
    const auto ends_with = [&](const std::string& s) {
      return t.name.size() > s.size() && t.name.compare(t.name.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with(kSums)) parts[t.name.substr(0, t.name.size() - kSums.size())].first = &t;
    else if (ends_with(kCounts)) parts[t.name.substr(0, t.name.size() - kCounts.size())].second = &t;
    else fail_input(path, "tensor '" + t.name + "' is neither <weight>" + kSums + " nor <weight>" + kCounts);
  }
  if (parts.empty()) fail_input(path, "imatrix GGUF has no entries");
  for (const auto& [name, p] : parts) {
    if (!p.first || !p.second) fail_input(path, "weight '" + name + "' lacks its " + (p.first ? kCounts : kSums));
    if (p.first->type != GgmlType::F32 || p.second->type != GgmlType::F32)
      fail_input(path, "weight '" + name + "': sums and counts must be F32");
    const int64_t n_mat = p.second->numel();
    if (n_mat < 1 || p.first->numel() % n_mat != 0)
      fail_input(path, "weight '" + name + "': " + std::to_string(p.first->numel()) + " sums do not split into " +
                           std::to_string(n_mat) + " matrices");
    const float* sums = reinterpret_cast<const float*>(f.bytes(*p.first));
    const float* counts = reinterpret_cast<const float*>(f.bytes(*p.second));
    ImatrixEntry& e = m.entries[name];
    e.sums.assign(sums, sums + p.first->numel());
    for (int64_t j = 0; j < n_mat; ++j) e.counts.push_back(std::lround(counts[j]));
  }
  return m;
}

// The legacy values of an entry held in GGUF form, and back, as llama-imatrix converts them:
// legacy values are means scaled by the chunk count, so sums = values with counts = the chunk count.
ImatrixEntry to_legacy(const ImatrixEntry& e, int32_t chunks) {
  const int64_t ncall = chunks > 0 ? chunks : 1;
  const size_t per_mat = e.sums.size() / e.counts.size();
  ImatrixEntry out{std::vector<float>(e.sums.size()), {ncall}};
  for (size_t i = 0; i < e.sums.size(); ++i) {
    const int64_t count = e.counts[i / per_mat];
    out.sums[i] = count > 0 ? e.sums[i] / static_cast<float>(count) * static_cast<float>(ncall) : 0.0f;
  }
  return out;
}

void write_dat(const ImportanceMatrix& m, const std::string& path) {
  AtomicFile out(path);
  const auto i32 = [&](int64_t v) {
    const int32_t x = static_cast<int32_t>(v);
    out.write(&x, sizeof x);
  };
  i32(static_cast<int64_t>(m.entries.size()));
  for (const auto& [name, entry] : m.entries) {
    const ImatrixEntry e = m.legacy ? entry : to_legacy(entry, m.chunk_count);
    i32(static_cast<int64_t>(name.size()));
    out.write(name.data(), name.size());
    i32(e.counts.at(0));
    i32(static_cast<int64_t>(e.sums.size()));
    out.write(e.sums.data(), e.sums.size() * sizeof(float));
  }
  i32(m.chunk_count);
  const std::string dataset = m.datasets.empty() ? "" : m.datasets.front();
  i32(static_cast<int64_t>(dataset.size()));
  out.write(dataset.data(), dataset.size());
  out.commit();
}

void write_gguf(const ImportanceMatrix& m, const std::string& path) {
  GgufWriter w(path);
  w.add_metadata("general.type", GgufValue::string("imatrix"));
  std::vector<GgufValue> datasets;
  for (const std::string& d : m.datasets) datasets.push_back(GgufValue::string(d));
  w.add_metadata("imatrix.datasets", GgufValue::array(GgufType::STRING, std::move(datasets)));
  w.add_metadata("imatrix.chunk_count", GgufValue::uint32(static_cast<uint32_t>(m.chunk_count)));
  w.add_metadata("imatrix.chunk_size", GgufValue::uint32(static_cast<uint32_t>(m.chunk_size)));
  for (const auto& [key, value] : Provenance::current().stamp())
    w.add_metadata("general.modelpress." + key, GgufValue::string(value));
  for (const auto& [name, e] : m.entries) {
    const int64_t n_mat = static_cast<int64_t>(e.counts.size());
    w.add_tensor(name + kSums, {n_mat, static_cast<int64_t>(e.sums.size()) / n_mat}, GgmlType::F32);
    w.add_tensor(name + kCounts, {n_mat, 1}, GgmlType::F32);
  }
  for (const auto& [name, e] : m.entries) {
    const int64_t n_mat = static_cast<int64_t>(e.counts.size());
    w.write_tensor(at::tensor(at::ArrayRef<float>(e.sums)).reshape({n_mat, -1}));
    std::vector<float> counts(e.counts.begin(), e.counts.end());
    w.write_tensor(at::tensor(at::ArrayRef<float>(counts)).reshape({n_mat, 1}));
  }
  w.commit();
}

}  // namespace

std::map<std::string, std::vector<float>> ImportanceMatrix::importance() const {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, e] : entries) {
    std::vector<float>& v = out[name];
    v.resize(e.sums.size());
    const size_t per_mat = e.sums.size() / e.counts.size();
    for (size_t i = 0; i < v.size(); ++i) {
      const int64_t count = e.counts[legacy ? 0 : i / per_mat];
      if (legacy) v[i] = count > 0 ? e.sums[i] / static_cast<float>(count) : e.sums[i];
      else v[i] = count > 0 ? e.sums[i] / static_cast<float>(count) : 1.0f;
    }
  }
  return out;
}

ImportanceMatrix read_imatrix(const std::string& path) {
  return is_gguf_file(path) ? read_gguf(path) : read_dat(path);
}

void write_imatrix(const ImportanceMatrix& matrix, const std::string& path, bool legacy) {
  if (legacy) return write_dat(matrix, path);
  if (!matrix.legacy) return write_gguf(matrix, path);
  ImportanceMatrix converted = matrix;  // legacy values with their call counts are GGUF sums and counts
  converted.legacy = false;
  write_gguf(converted, path);
}

}  // namespace mp
