#include "formats/hdf5_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "lib/base/error.h"
#include "lib/pipeline/provenance.h"

namespace mp::h5 {

namespace {

// HDF5 prints its error stack to stderr by default; modelpress reports one line instead. A
// thread-safe libhdf5 (Debian's) keeps that setting per thread.
void silence_hdf5() {
  thread_local const bool silenced = [] { return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0; }();
  (void)silenced;
}

Id check(hid_t id, herr_t (*closer)(hid_t), const std::string& where, const char* what) {
  if (id < 0) fail_runtime(where + ": HDF5 cannot " + what);
  return Id(id, closer);
}

void check(herr_t status, const std::string& where, const char* what) {
  if (status < 0) fail_runtime(where + ": HDF5 cannot " + what);
}

// A file libhdf5 opened whose attribute it then cannot read is the file's fault (found by
// fuzz_hdf5_datasets), as is a dataset it cannot open.
[[noreturn]] void damaged_attribute(const std::string& path, const std::string& name) {
  fail_input(path, "attribute '" + name + "' cannot be read: the file is damaged or truncated");
}

std::string describe_type(hid_t type) {
  const size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_FLOAT: return "float" + std::to_string(bits);
    case H5T_STRING: return "string";
    default: return "a non-numeric type";
  }
}

Id string_type(size_t length) {
  Id type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), length ? length : 1);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  return type;
}

}  // namespace

Id& Id::operator=(Id&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = -1;
  }
  return *this;
}

void Id::reset() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = -1;
}

hid_t float16_type() {
  static const hid_t type = [] {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);  // sign bit, exponent at 10 (5 bits), mantissa 10 bits
    H5Tset_size(t, 2);
    H5Tset_precision(t, 16);
    H5Tset_ebias(t, 15);
    return t;
  }();
  return type;
}

File File::create(const std::string& path) {
  silence_hdf5();
  // No modification times in object headers: the same data must give the same bytes.
  Id creation(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_obj_track_times(creation.get(), false);
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, creation.get(), H5P_DEFAULT);
  if (id < 0) fail_input(path, "cannot create HDF5 file");
  return File(path, Id(id, H5Fclose));
}

namespace {
hid_t open_existing(const std::string& path, unsigned flags) {
  silence_hdf5();
  if (!std::filesystem::exists(path)) fail_input(path, "no such file");
  if (H5Fis_hdf5(path.c_str()) <= 0) fail_input(path, "not an HDF5 file");
  hid_t id = H5Fopen(path.c_str(), flags, H5P_DEFAULT);
  if (id < 0) fail_input(path, "cannot open HDF5 file");
  return id;
}
}  // namespace

File File::open_read(const std::string& path) {
  return File(path, Id(open_existing(path, H5F_ACC_RDONLY), H5Fclose));
}

File File::open_write(const std::string& path) {
  return File(path, Id(open_existing(path, H5F_ACC_RDWR), H5Fclose));
}

void File::flush() { check(H5Fflush(id(), H5F_SCOPE_LOCAL), path_, "flush"); }

bool File::has_dataset(const std::string& name) const {
  return H5Lexists(id(), name.c_str(), H5P_DEFAULT) > 0;
}

bool File::has_attribute(const std::string& name) const {
  return H5Aexists(id(), name.c_str()) > 0;
}

namespace {
void write_attribute(const File& file, const std::string& name, hid_t type, hid_t space,
                     const void* data) {
  if (file.has_attribute(name)) H5Adelete(file.id(), name.c_str());
  Id attribute = check(H5Acreate2(file.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                       H5Aclose, file.path(), "create an attribute");
  check(H5Awrite(attribute.get(), type, data), file.path(), "write an attribute");
}
}  // namespace

void File::set_attribute(const std::string& name, const std::string& value) {
  Id type = string_type(value.size());
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  write_attribute(*this, name, type.get(), space.get(), padded.data());
}

void File::set_attribute(const std::string& name, const std::vector<std::string>& values) {
  size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  std::string packed(width * values.size(), '\0');
  for (size_t i = 0; i < values.size(); ++i) packed.replace(i * width, values[i].size(), values[i]);
  Id type = string_type(width);
  hsize_t count = values.size();
  Id space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  write_attribute(*this, name, type.get(), space.get(), packed.data());
}

void File::set_attribute(const std::string& name, int64_t value) {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attribute(*this, name, H5T_NATIVE_INT64, space.get(), &value);
}

void File::set_attribute(const std::string& name, double value) {
  Id space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attribute(*this, name, H5T_NATIVE_DOUBLE, space.get(), &value);
}

Id File::open_attribute(const std::string& name) const {
  if (!has_attribute(name)) fail_input(path_, "missing attribute '" + name + "'");
  const hid_t id = H5Aopen(this->id(), name.c_str(), H5P_DEFAULT);
  if (id < 0) damaged_attribute(path_, name);
  return Id(id, H5Aclose);
}

std::vector<std::string> File::string_list_attribute(const std::string& name) const {
  Id attribute = open_attribute(name);
  Id type(H5Aget_type(attribute.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
    fail_input(path_, "attribute '" + name + "' is not a fixed-length string");
  Id space(H5Aget_space(attribute.get()), H5Sclose);
  const size_t width = H5Tget_size(type.get());
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  // Attribute values are stored in the file: more bytes than it has is a damaged header.
  if (width == 0 || points < 0 ||
      static_cast<double>(width) * static_cast<double>(points) > static_cast<double>(std::filesystem::file_size(path_)))
    damaged_attribute(path_, name);
  const auto count = static_cast<size_t>(points);
  std::string packed(width * count, '\0');
  if (H5Aread(attribute.get(), type.get(), packed.data()) < 0) damaged_attribute(path_, name);
  std::vector<std::string> values;
  for (size_t i = 0; i < count; ++i) {
    std::string v = packed.substr(i * width, width);
    values.push_back(v.substr(0, v.find('\0')));
  }
  return values;
}

std::string File::string_attribute(const std::string& name) const {
  auto values = string_list_attribute(name);
  if (values.size() != 1) fail_input(path_, "attribute '" + name + "' is not a single string");
  return values[0];
}

namespace {
template <typename T>
T read_scalar(const File& file, const Id& attribute, const std::string& name, hid_t memory_type,
              H5T_class_t expected_class) {
  Id type(H5Aget_type(attribute.get()), H5Tclose);
  if (H5Tget_class(type.get()) != expected_class)
    fail_input(file.path(), "attribute '" + name + "' has type " + describe_type(type.get()));
  T value{};
  if (H5Aread(attribute.get(), memory_type, &value) < 0) damaged_attribute(file.path(), name);
  return value;
}
}  // namespace

int64_t File::int_attribute(const std::string& name) const {
  return read_scalar<int64_t>(*this, open_attribute(name), name, H5T_NATIVE_INT64, H5T_INTEGER);
}

double File::double_attribute(const std::string& name) const {
  return read_scalar<double>(*this, open_attribute(name), name, H5T_NATIVE_DOUBLE, H5T_FLOAT);
}

Dataset Dataset::create(File& file, const std::string& name, hid_t type, int64_t row_width,
                        int64_t chunk_rows) {
  const int rank = row_width > 0 ? 2 : 1;
  hsize_t dims[2] = {0, static_cast<hsize_t>(row_width)};
  hsize_t max_dims[2] = {H5S_UNLIMITED, static_cast<hsize_t>(row_width)};
  hsize_t chunk[2] = {static_cast<hsize_t>(chunk_rows), static_cast<hsize_t>(row_width)};
  Id space(H5Screate_simple(rank, dims, max_dims), H5Sclose);
  Id properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(properties.get(), rank, chunk);
  // Byte shuffling groups the mostly-zero high bytes of small integers, which deflate then removes.
  H5Pset_shuffle(properties.get());
  H5Pset_deflate(properties.get(), 4);
  H5Pset_obj_track_times(properties.get(), false);
  const std::string where = file.path() + ": dataset '" + name + "'";
  Id dataset = check(H5Dcreate2(file.id(), name.c_str(), type, space.get(), H5P_DEFAULT,
                                properties.get(), H5P_DEFAULT),
                     H5Dclose, where, "create the dataset");
  return Dataset(where, std::move(dataset), row_width);
}

namespace {
// Only data stored in the file, in a form this HDF5 can decode: no virtual datasets or external
// raw storage (they read other files), no filters this build lacks.
void check_storage(hid_t properties, const std::string& where) {
  if (H5Pget_layout(properties) == H5D_VIRTUAL)
    fail_input(where, "is a virtual dataset; only datasets stored in the file itself are read");
  if (H5Pget_external_count(properties) > 0)
    fail_input(where, "keeps its data in external files; only datasets stored in the file itself are read");
  const int filters = H5Pget_nfilters(properties);
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0, config = 0;
    size_t values = 0;
    char name[64] = {0};
    const H5Z_filter_t filter =
        H5Pget_filter2(properties, static_cast<unsigned>(i), &flags, &values, nullptr, sizeof name, name, &config);
    if (filter < 0 || H5Zfilter_avail(filter) <= 0)
      fail_input(where, "is compressed with HDF5 filter " + std::to_string(filter) + " (" + name +
                            "), which this build cannot decode");
  }
}
}  // namespace

Dataset Dataset::open(const File& file, const std::string& name, hid_t expected_type,
                      const char* expected_type_name) {
  if (!file.has_dataset(name)) fail_input(file.path(), "no dataset '" + name + "'");
  const std::string where = file.path() + ": dataset '" + name + "'";
  H5L_info_t link{};
  if (H5Lget_info(file.id(), name.c_str(), &link, H5P_DEFAULT) < 0 || link.type != H5L_TYPE_HARD)
    fail_input(where, "is a soft or external link; only datasets stored in the file itself are read");
  // A dataset whose header libhdf5 cannot decode is the file's fault (found by fuzz_hdf5_datasets).
  const hid_t id = H5Dopen2(file.id(), name.c_str(), H5P_DEFAULT);
  if (id < 0) fail_input(where, "cannot be opened: the file is damaged or truncated");
  Id dataset(id, H5Dclose);
  Id properties(H5Dget_create_plist(dataset.get()), H5Pclose);
  check_storage(properties.get(), where);
  Id type(H5Dget_type(dataset.get()), H5Tclose);
  if (H5Tequal(type.get(), expected_type) <= 0)
    fail_input(file.path(), "dataset '" + name + "' has type " + describe_type(type.get()) +
                                ", expected " + expected_type_name);
  Id space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  hsize_t dims[2] = {0, 0};
  if (rank < 1 || rank > 2) fail_input(file.path(), "dataset '" + name + "' is not 1-D or 2-D");
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  // A dataset may declare rows whose chunks were never written; reading them would ask for memory
  // the file cannot justify. Reading any row makes libhdf5 allocate its whole chunk (and fill it
  // where it was never written), so a chunk is held to the same bound (found by fuzz_hdf5_datasets:
  // a 16 KB file declaring chunks of 1 GB, filled on every read).
  const double file_bytes = static_cast<double>(std::filesystem::file_size(file.path()));
  const auto refuse_past_file = [&](double bytes, const std::string& what) {
    if (bytes > kMaxDeflateGain * file_bytes)
      fail_input(where, what + ", more than a file of " + std::to_string(static_cast<uint64_t>(file_bytes)) +
                            " bytes can hold");
  };
  const double element_bytes = static_cast<double>(H5Tget_size(type.get()));
  refuse_past_file(static_cast<double>(dims[0]) * std::max<hsize_t>(dims[1], 1) * element_bytes,
                   "declares " + std::to_string(dims[0]) + " rows");
  if (H5Pget_layout(properties.get()) == H5D_CHUNKED) {
    hsize_t chunk[2] = {0, 0};
    const int chunk_rank = H5Pget_chunk(properties.get(), 2, chunk);
    double chunk_bytes = element_bytes;
    for (int i = 0; i < std::min(chunk_rank, 2); ++i) chunk_bytes *= static_cast<double>(chunk[i]);
    refuse_past_file(chunk_bytes,
                     "is stored in chunks of " + std::to_string(static_cast<uint64_t>(chunk_bytes)) + " bytes");
  }
  return Dataset(where, std::move(dataset), rank == 2 ? static_cast<int64_t>(dims[1]) : 0);
}

int64_t Dataset::rows() const {
  Id space(H5Dget_space(id_.get()), H5Sclose);
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  return static_cast<int64_t>(dims[0]);
}

void Dataset::resize(int64_t rows) {
  hsize_t dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(row_width_)};
  check(H5Dset_extent(id_.get(), dims), where_, "resize the dataset");
}

Id Dataset::selection(int64_t start, int64_t rows, Id& memory_space) const {
  const int rank = row_width_ > 0 ? 2 : 1;
  hsize_t offset[2] = {static_cast<hsize_t>(start), 0};
  hsize_t count[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(row_width_)};
  Id file_space(H5Dget_space(id_.get()), H5Sclose);
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset, nullptr, count, nullptr),
        where_, "select rows");
  memory_space = Id(H5Screate_simple(rank, count, nullptr), H5Sclose);
  return file_space;
}

void Dataset::append(hid_t memory_type, const void* data, int64_t rows) {
  if (rows == 0) return;
  const int64_t start = this->rows();
  resize(start + rows);
  Id memory_space;
  Id file_space = selection(start, rows, memory_space);
  errno = 0;  // HDF5 does not say why a write failed; the system call it made does (a full disk)
  if (H5Dwrite(id_.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    fail_runtime(where_ + ": HDF5 cannot write rows" + (errno ? std::string(": ") + std::strerror(errno) : ""));
}

void Dataset::read(int64_t start, int64_t rows, hid_t memory_type, void* out) const {
  if (start < 0 || rows < 0 || start + rows > this->rows())
    fail_input(where_, "rows [" + std::to_string(start) + ", " + std::to_string(start + rows) +
                           ") out of range (" + std::to_string(this->rows()) + " rows)");
  if (rows == 0) return;
  Id memory_space;
  Id file_space = selection(start, rows, memory_space);
  if (H5Dread(id_.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, out) < 0)
    fail_input(where_, "rows [" + std::to_string(start) + ", " + std::to_string(start + rows) +
                           ") cannot be read: the file is damaged or truncated");
}

}  // namespace mp::h5

namespace mp::h5 {

void set_provenance_attributes(File& file) {
  for (const auto& [key, value] : Provenance::current().stamp()) file.set_attribute("modelpress." + key, value);
}

}  // namespace mp::h5
