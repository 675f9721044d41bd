#include "distill/teacher_cache.h"

#include <filesystem>

#include "lib/base/error.h"
#include "lib/pipeline/provenance.h"

namespace mp {

namespace {

constexpr int64_t kChunkRows = 1024;

const char* storage_name(LogprobStorage storage) {
  return storage == LogprobStorage::float16 ? "float16" : "float32";
}

hid_t storage_type(LogprobStorage storage) {
  return storage == LogprobStorage::float16 ? h5::float16_type() : H5T_IEEE_F32LE;
}

// The memory-side type matching how append() lays logprobs out, so HDF5 copies bytes unconverted.
hid_t storage_memory_type(LogprobStorage storage) {
  return storage == LogprobStorage::float16 ? h5::float16_type() : H5T_NATIVE_FLOAT;
}

h5::File create_cache(const std::string& path, const TeacherCacheIdentity& identity) {
  if (identity.k < 1) fail_input(path, "k must be at least 1");
  if (identity.context < 1) fail_input(path, "context must be at least 1");
  h5::File file = h5::File::create(path);
  file.set_attribute("k", identity.k);
  file.set_attribute("context", identity.context);
  file.set_attribute("teacher_sha256", identity.teacher_sha256);
  file.set_attribute("dataset_sha256", identity.dataset_sha256);
  file.set_attribute("logprob_dtype", std::string(storage_name(identity.storage)));
  file.set_attribute("temperature", 1.0);
  file.set_attribute("tokens_written", int64_t{0});
  h5::Dataset::create(file, "indices", H5T_STD_I32LE, identity.k, kChunkRows);
  h5::Dataset::create(file, "logprobs", storage_type(identity.storage), identity.k, kChunkRows);
  h5::Dataset::create(file, "tail_logmass", H5T_IEEE_F32LE, 0, kChunkRows);
  file.flush();
  return file;
}

// The attributes, from the writer's own partial file (h5::File) or an untrusted cache (h5::IsolatedReader).
template <typename AnyFile>
TeacherCacheIdentity read_identity(const AnyFile& file) {
  TeacherCacheIdentity identity;
  identity.k = file.int_attribute("k");
  identity.context = file.int_attribute("context");
  identity.teacher_sha256 = file.string_attribute("teacher_sha256");
  identity.dataset_sha256 = file.string_attribute("dataset_sha256");
  const std::string dtype = file.string_attribute("logprob_dtype");
  if (dtype != "float16" && dtype != "float32")
    fail_input(file.path(), "logprob_dtype '" + dtype + "' is neither float16 nor float32");
  identity.storage = dtype == "float16" ? LogprobStorage::float16 : LogprobStorage::float32;
  if (file.double_attribute("temperature") != 1.0)
    fail_input(file.path(), "cached at a temperature other than 1");
  return identity;
}

h5::File open_or_create(const std::string& path, const TeacherCacheIdentity& wanted) {
  if (!std::filesystem::exists(path)) return create_cache(path, wanted);
  h5::File file = h5::File::open_write(path);
  const TeacherCacheIdentity found = read_identity(file);
  if (found.k != wanted.k || found.context != wanted.context ||
      found.teacher_sha256 != wanted.teacher_sha256 ||
      found.dataset_sha256 != wanted.dataset_sha256 || found.storage != wanted.storage)
    fail_input(path, "partial teacher cache was made with another teacher, dataset, k, context "
                     "or dtype; delete it to start over");
  return file;
}

h5::Dataset open_indices(const h5::File& file, int64_t k) {
  h5::Dataset d = h5::Dataset::open(file, "indices", H5T_NATIVE_INT32, "int32");
  if (d.row_width() != k) fail_input(file.path(), "dataset 'indices' is not [n_tokens, k]");
  return d;
}

h5::Dataset open_logprobs(const h5::File& file, const TeacherCacheIdentity& identity) {
  h5::Dataset d = h5::Dataset::open(file, "logprobs", storage_type(identity.storage),
                                    storage_name(identity.storage));
  if (d.row_width() != identity.k) fail_input(file.path(), "dataset 'logprobs' is not [n_tokens, k]");
  return d;
}

h5::Dataset open_tail(const h5::File& file) {
  return h5::Dataset::open(file, "tail_logmass", H5T_NATIVE_FLOAT, "float32");
}

// A dataset of an untrusted cache, `row_width` wide (0: 1-D), opened in the reader process.
h5::RemoteDataset open_remote(const h5::IsolatedReader& file, const std::string& name, h5::Element element,
                              int64_t row_width) {
  h5::RemoteDataset d = file.open_dataset(name, element);
  if (d.row_width != row_width)
    fail_input(file.path(), "dataset '" + name + "' is not " + (row_width ? "[n_tokens, k]" : "1-D"));
  return d;
}

h5::Element logprob_element(LogprobStorage storage) {
  return storage == LogprobStorage::float16 ? h5::Element::float16 : h5::Element::float32;
}

}  // namespace

TeacherCacheWriter::TeacherCacheWriter(const std::string& path, const TeacherCacheIdentity& identity)
    : output_(path, AtomicPath::Partial::keep_for_resume),
      identity_(identity),
      file_(open_or_create(output_.temp_path(), identity)),
      indices_(open_indices(file_, identity.k)),
      logprobs_(open_logprobs(file_, identity)),
      tail_(open_tail(file_)),
      tokens_written_(file_.int_attribute("tokens_written")) {
  // A run killed inside append() may have grown the datasets past the last recorded row.
  indices_.resize(tokens_written_);
  logprobs_.resize(tokens_written_);
  tail_.resize(tokens_written_);
}

void TeacherCacheWriter::append(const TeacherTopK& rows) {
  if (rows.k() != identity_.k)
    fail_runtime("teacher cache: rows have k=" + std::to_string(rows.k()) + ", cache has k=" +
                 std::to_string(identity_.k));
  const int64_t n = rows.rows();
  const at::Tensor indices = rows.indices.to(at::kInt).contiguous();
  const at::Tensor logprobs =
      rows.logprobs.to(identity_.storage == LogprobStorage::float16 ? at::kHalf : at::kFloat)
          .contiguous();
  const at::Tensor tail = rows.tail_logmass.to(at::kFloat).contiguous();
  indices_.append(H5T_NATIVE_INT32, indices.data_ptr(), n);
  logprobs_.append(storage_memory_type(identity_.storage), logprobs.data_ptr(), n);
  tail_.append(H5T_NATIVE_FLOAT, tail.data_ptr(), n);
  file_.flush();
  // Recorded only once the rows are on disk: the count never claims rows that are not there.
  tokens_written_ += n;
  file_.set_attribute("tokens_written", tokens_written_);
  file_.flush();
}

void TeacherCacheWriter::commit() {
  h5::set_provenance_attributes(file_);
  indices_.close();
  logprobs_.close();
  tail_.close();
  file_.close();
  output_.commit();
  write_file_manifest(output_.path());
}

TeacherCacheReader::TeacherCacheReader(const std::string& path)
    : file_(path),
      identity_(read_identity(file_)),
      indices_(open_remote(file_, "indices", h5::Element::int32, identity_.k)),
      logprobs_(open_remote(file_, "logprobs", logprob_element(identity_.storage), identity_.k)),
      tail_(open_remote(file_, "tail_logmass", h5::Element::float32, 0)),
      n_tokens_(file_.int_attribute("tokens_written")) {
  if (indices_.rows != n_tokens_ || logprobs_.rows != n_tokens_ || tail_.rows != n_tokens_)
    fail_input(path, "datasets disagree with tokens_written");
}

TeacherTopK TeacherCacheReader::read(int64_t start, int64_t count) const {
  const int64_t k = identity_.k;
  at::Tensor indices = at::empty({count, k}, at::kInt);
  at::Tensor logprobs = at::empty(
      {count, k}, identity_.storage == LogprobStorage::float16 ? at::kHalf : at::kFloat);
  at::Tensor tail = at::empty({count}, at::kFloat);
  file_.read(indices_, start, count, indices.data_ptr());
  file_.read(logprobs_, start, count, logprobs.data_ptr());
  file_.read(tail_, start, count, tail.data_ptr());
  return {indices.to(at::kLong), logprobs.to(at::kFloat), tail};
}

int64_t teacher_cache_bytes_per_token(int64_t k, LogprobStorage storage) {
  const int64_t logprob_bytes = storage == LogprobStorage::float16 ? 2 : 4;
  return k * (4 + logprob_bytes) + 4;
}

}  // namespace mp
