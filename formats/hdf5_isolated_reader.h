// Reading an untrusted HDF5 file without letting libhdf5 touch modelpress's memory.
//
// Debian's libhdf5 1.10 corrupts its own heap on some damaged files (a use-after-free in its
// metadata cache, docs/reliability.md), and such a file can be made to look like any modelpress
// dataset. So the file is opened by a child process forked for it, which alone calls libhdf5 on it
// (through h5::File and h5::Dataset, the same checks as before) and answers requests over a socket:
// attributes, dataset shapes, rows. This process only ever receives bytes, whose sizes it checks;
// whatever the child's heap suffers, the worst it can send is wrong numbers, which a hostile file
// could hold anyway. A child that dies (a signal, a sanitizer report, an abort) becomes one line
// naming the file, exit code 3. The child answers until this object is destroyed.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace mp::h5 {

// The element types modelpress's datasets hold, on both sides of the socket.
enum class Element : uint8_t { int32, int64, float16, float32 };

// A dataset the child has opened: its index there, and its shape.
struct RemoteDataset {
  uint32_t index = 0;
  Element element = Element::int32;
  int64_t rows = 0;
  int64_t row_width = 0;  // 0 for a 1-D dataset
  std::string where;      // "file.h5: dataset 'name'" for messages
};

class IsolatedReader {
 public:
  // Forks the reader and has it open `path` (File::open_read: a missing or non-HDF5 file is bad input).
  explicit IsolatedReader(const std::string& path);
  ~IsolatedReader();
  IsolatedReader(const IsolatedReader&) = delete;
  IsolatedReader& operator=(const IsolatedReader&) = delete;

  const std::string& path() const { return path_; }
  pid_t child() const { return child_; }  // for tests that kill it

  std::string string_attribute(const std::string& name) const;
  std::vector<std::string> string_list_attribute(const std::string& name) const;
  int64_t int_attribute(const std::string& name) const;
  double double_attribute(const std::string& name) const;

  // Dataset::open in the child: missing, a link, not stored in the file, another element type,
  // not 1-D or 2-D, or more rows than the file can hold are bad input.
  RemoteDataset open_dataset(const std::string& name, Element element) const;
  // Rows [start, start + rows) into `out` (rows × max(row_width, 1) elements).
  void read(const RemoteDataset& dataset, int64_t start, int64_t rows, void* out) const;

 private:
  // One request and its answer: the payload, or with `into` the rows received straight into it
  // (exactly `into_bytes` of them). An mp::Error the child caught is rethrown here.
  std::string request(uint8_t op, const std::string& name, const std::vector<int64_t>& numbers,
                      Element element = Element::int32, void* into = nullptr, uint64_t into_bytes = 0) const;
  [[noreturn]] void child_failed() const;  // the child died or lied: one line naming the file
  void stop();
  std::string path_;
  mutable pid_t child_ = -1;  // -1 once it has been waited for
  mutable std::string failure_ = "it stopped answering";  // how it ended, once it has
  int socket_ = -1;
  mutable std::mutex mutex_;  // one request at a time on the socket
  std::future<void> reader_done_;  // the fuzz build's reader, in place of the child (see the .cpp)
};

}  // namespace mp::h5
