// A thin layer over the HDF5 C API for the files modelpress writes: one file, root attributes, and
// datasets that grow along their first dimension (chunked, deflate-compressed). Every failure
// becomes a one-line mp::Error naming the file; HDF5's own error stack printing is switched off.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mp::h5 {

// Deflate shrinks data at most about 1032-fold, so no dataset honestly holds more than this many
// times its file's bytes, and reading one needs no more memory than that.
constexpr double kMaxDeflateGain = 1100.0;

// An HDF5 identifier, closed with the matching H5?close when it goes out of scope.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  ~Id() { reset(); }
  Id(Id&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Id& operator=(Id&& other) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  void reset();

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// IEEE half precision: HDF5 1.10 has no predefined 16-bit float, so it is described field by field
// (the description h5py also uses for float16).
hid_t float16_type();

class File {
 public:
  static File create(const std::string& path);      // truncates
  static File open_read(const std::string& path);   // missing or non-HDF5 file: bad input
  static File open_write(const std::string& path);  // an existing file, for appending
  const std::string& path() const { return path_; }
  hid_t id() const { return id_.get(); }
  void flush();
  void close() { id_.reset(); }

  bool has_dataset(const std::string& name) const;
  bool has_attribute(const std::string& name) const;
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, const std::vector<std::string>& values);
  void set_attribute(const std::string& name, int64_t value);
  void set_attribute(const std::string& name, double value);
  std::string string_attribute(const std::string& name) const;
  std::vector<std::string> string_list_attribute(const std::string& name) const;
  int64_t int_attribute(const std::string& name) const;
  double double_attribute(const std::string& name) const;

 private:
  File(std::string path, Id id) : path_(std::move(path)), id_(std::move(id)) {}
  Id open_attribute(const std::string& name) const;
  std::string path_;
  Id id_;
};

// The run's provenance (lib/provenance.h) as "modelpress.*" root attributes.
void set_provenance_attributes(File& file);

// A 1-D dataset [rows] (row_width 0) or 2-D [rows, row_width], extendable in rows.
class Dataset {
 public:
  static Dataset create(File& file, const std::string& name, hid_t type, int64_t row_width,
                        int64_t chunk_rows);
  // Missing dataset, wrong rank or a type other than `expected_type`: bad input.
  static Dataset open(const File& file, const std::string& name, hid_t expected_type,
                      const char* expected_type_name);

  int64_t rows() const;
  int64_t row_width() const { return row_width_; }
  void resize(int64_t rows);
  // Rows are contiguous in `data`, row_width elements of `memory_type` each (1 for 1-D).
  void append(hid_t memory_type, const void* data, int64_t rows);
  void read(int64_t start, int64_t rows, hid_t memory_type, void* out) const;
  // HDF5 keeps a file open, and keeps writing it, until its last dataset is closed: close every
  // dataset before File::close() when the file is about to be renamed or hashed.
  void close() { id_.reset(); }

 private:
  Dataset(std::string where, Id id, int64_t row_width)
      : where_(std::move(where)), id_(std::move(id)), row_width_(row_width) {}
  Id selection(int64_t start, int64_t rows, Id& memory_space) const;
  std::string where_;  // "file.h5: dataset 'name'" for messages
  Id id_;
  int64_t row_width_;
};

}  // namespace mp::h5
