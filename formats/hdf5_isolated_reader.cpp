#include "formats/hdf5_isolated_reader.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <optional>
#include <thread>

#include "formats/hdf5_file.h"
#include "lib/base/error.h"
#include "lib/base/sanitizers.h"

// Sanitizer builds (the fuzz targets, scripts/test.sh --sanitize): see become_reader().
#ifdef MODELPRESS_SANITIZER_RUNTIME
#include <sanitizer/common_interface_defs.h>
#endif

namespace mp::h5 {

namespace {

enum Op : uint8_t { kOpen, kString, kStringList, kInt, kDouble, kOpenDataset, kRead };

struct RequestHeader {
  uint8_t op = 0;
  uint8_t element = 0;  // kOpenDataset, kRead: an Element
  uint8_t unused[2] = {0, 0};
  uint32_t name_bytes = 0;
  int64_t numbers[3] = {0, 0, 0};
};

struct ReplyHeader {
  int32_t status = 0;  // 0, or the ExitCode of the mp::Error the child caught (the payload is its message)
  uint32_t unused = 0;
  uint64_t bytes = 0;
};

// No attribute or list of names modelpress reads comes near this; a longer reply is not honest.
constexpr uint64_t kMaxMetadataReply = uint64_t{1} << 26;

hid_t memory_type(Element e) {
  switch (e) {
    case Element::int32: return H5T_NATIVE_INT32;
    case Element::int64: return H5T_NATIVE_INT64;
    case Element::float16: return float16_type();
    case Element::float32: return H5T_NATIVE_FLOAT;
  }
  return -1;
}

const char* element_name(Element e) {
  switch (e) {
    case Element::int32: return "int32";
    case Element::int64: return "int64";
    case Element::float16: return "float16";
    case Element::float32: return "float32";
  }
  return "?";
}

size_t element_bytes(Element e) { return e == Element::int64 ? 8 : e == Element::float16 ? 2 : 4; }

bool send_all(int fd, const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::send(fd, p, bytes, MSG_NOSIGNAL);  // a dead peer is an error, not SIGPIPE
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

bool receive_all(int fd, void* data, size_t bytes) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::recv(fd, p, bytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return true;
}

void append_string(std::string& out, const std::string& s) {
  const uint64_t n = s.size();
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out += s;
}

template <typename T>
std::string bytes_of(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}

// ---- the child ----

// A damaged file can make libhdf5 allocate without end: fuzz_hdf5_datasets found 393 bytes on which
// its reallocations grew the reader past 2 GB in 8 s before it gave up. The reader may grow by what
// the file's data can honestly decompress to (the bound Dataset::open holds datasets to) plus 1 GiB
// for libhdf5's caches and buffers; past that its allocations fail, and the file is refused. The
// bound is on top of what the process has mapped already: the parent's whole address space
// (models, LibTorch, a sanitizer's shadow).
void bound_address_space(const std::string& path) {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  if (!(statm >> pages)) return;
  std::error_code error;
  const uint64_t file_bytes = std::filesystem::file_size(path, error);
  const double budget = 1073741824.0 + kMaxDeflateGain * static_cast<double>(error ? 0 : file_bytes);
  rlimit limit{};
  if (::getrlimit(RLIMIT_AS, &limit) != 0) return;
  const double bound = static_cast<double>(pages) * static_cast<double>(::sysconf(_SC_PAGESIZE)) + budget;
  if (bound < static_cast<double>(limit.rlim_cur)) limit.rlim_cur = static_cast<rlim_t>(bound);
  ::setrlimit(RLIMIT_AS, &limit);
}

// The child inherits a copy of everything; it keeps only the socket and what libhdf5 needs. Locks
// on outputs (flock) and other readers' sockets are closed, so they end when this process's owner
// lets them go. Its stderr is /dev/null: the parent reports the one line. Crash handlers go back to
// the default, so a crash is a plain signal; a sanitizer report here is the contained failure
// this file exists for, not the parent's (libFuzzer's death callback would save the input).
int become_reader(int socket) {
  // The socket's end of file stops an idle child; this stops one stuck inside libhdf5 when its
  // parent is killed. (It fires when the forking thread ends: readers are made on the main thread.)
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (socket != 3) {
    ::dup2(socket, 3);
    socket = 3;
  }
  ::close_range(4, ~0U, 0);
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) {
    ::dup2(null, STDERR_FILENO);
    ::close(null);
  }
  struct sigaction plain {};
  plain.sa_handler = SIG_DFL;
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::sigaction(sig, &plain, nullptr);
#ifdef MODELPRESS_SANITIZER_RUNTIME
  __sanitizer_set_death_callback(nullptr);
#endif
  return socket;
}

// Answers one request on the open file; an mp::Error (bad input naming the file) becomes the reply.
std::string answer(const File& file, std::vector<Dataset>& datasets, const RequestHeader& r, const std::string& name) {
  switch (r.op) {
    case kString: {
      std::string out = bytes_of(uint64_t{1});
      append_string(out, file.string_attribute(name));
      return out;
    }
    case kStringList: {
      const std::vector<std::string> values = file.string_list_attribute(name);
      std::string out = bytes_of(static_cast<uint64_t>(values.size()));
      for (const auto& v : values) append_string(out, v);
      return out;
    }
    case kInt: return bytes_of(file.int_attribute(name));
    case kDouble: return bytes_of(file.double_attribute(name));
    case kOpenDataset: {
      const auto element = static_cast<Element>(r.element);
      datasets.push_back(Dataset::open(file, name, memory_type(element), element_name(element)));
      return bytes_of(static_cast<int64_t>(datasets.size() - 1)) + bytes_of(datasets.back().rows()) +
             bytes_of(datasets.back().row_width());
    }
    case kRead: {
      const auto index = static_cast<size_t>(r.numbers[0]);
      if (r.numbers[0] < 0 || index >= datasets.size() || r.numbers[2] < 0) fail_runtime("hdf5 reader: bad read");
      const auto element = static_cast<Element>(r.element);
      const Dataset& d = datasets[index];
      std::string out(static_cast<size_t>(r.numbers[2] * std::max<int64_t>(d.row_width(), 1)) * element_bytes(element),
                      '\0');
      d.read(r.numbers[1], r.numbers[2], memory_type(element), out.data());
      return out;
    }
    default: fail_runtime("hdf5 reader: unknown request");
  }
}

bool reply(int socket, int32_t status, const std::string& payload) {
  ReplyHeader h;
  h.status = status;
  h.bytes = payload.size();
  return send_all(socket, &h, sizeof h) && send_all(socket, payload.data(), payload.size());
}

// Answers requests on `path` until the parent closes its end of the socket.
void serve(const std::string& path, int socket) {
  std::optional<File> file;
  std::vector<Dataset> datasets;
  RequestHeader r;
  std::string name;
  while (receive_all(socket, &r, sizeof r)) {
    name.assign(r.name_bytes, '\0');
    if (!receive_all(socket, name.data(), name.size())) break;
    int32_t status = 0;
    std::string payload;
    try {
      if (r.op == kOpen) {
        file.emplace(File::open_read(path));
      } else {
        if (!file) fail_runtime("hdf5 reader: no file open");
        payload = answer(*file, datasets, r, name);
      }
    } catch (const Error& e) {
      status = static_cast<int32_t>(e.code());
      payload = e.what();
    } catch (const std::bad_alloc&) {
      status = static_cast<int32_t>(ExitCode::bad_input);
      payload = path + ": reading it needs more memory than the reader has";
    } catch (const std::exception& e) {
      status = static_cast<int32_t>(ExitCode::runtime_failure);
      payload = e.what();
    }
    if (!reply(socket, status, payload)) break;
  }
}

#ifdef MODELPRESS_HDF5_READER_THREAD
// The fuzz build serves on a thread of this process instead (tests/fuzz/CMakeLists.txt): a fork per
// input of a process carrying LibTorch under ASan costs 0.3 s, so HDF5 could not be fuzzed at the
// rate of the other parsers. Both sides of the socket run the same code; only libhdf5's own faults
// are no longer contained, and the fuzz run sees them (docs/reliability.md). No process has this
// pid (pid_max is at most 2^22), so the parent's kill and waitpid on it do nothing.
constexpr pid_t kReaderThread = std::numeric_limits<pid_t>::max();

// Reader threads are kept for the next file: under ASan a thread's end unmaps its stack and shadow,
// and each unmapping stops the other CPUs to flush their TLBs, which costs more than reading a small
// file. For the same reason libhdf5 keeps every block it frees on its free lists: past their limits
// (64 KiB for a list of one structure) it returned each file's metadata cache to the allocator, and
// the next file's came back as fresh pages to fault in. (In modelpress each reader is a process that
// opens one file, where neither matters.) And as a reader process ends with _exit, libhdf5 does not
// tear itself down at exit here either: the teardown walks the free lists, which libhdf5's own memory
// errors on earlier inputs (suppressed under ASan, tests/fuzz/asan.supp) may have left damaged.
class ReaderThreads {
 public:
  ReaderThreads() {
    H5dont_atexit();  // before any other call into libhdf5, which would install its exit handler
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
  }

  // serve(path, socket) on an idle thread, or a new one if none is idle; the future is ready once the
  // socket is closed.
  std::future<void> start(const std::string& path, int socket) {
    Job job{path, socket, {}};
    std::future<void> done = job.done.get_future();
    const std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
    if (idle_ >= jobs_.size()) {
      wake_.notify_one();
    } else {
      std::thread([this] { work(); }).detach();
    }
    return done;
  }

 private:
  struct Job {
    std::string path;
    int socket;
    std::promise<void> done;
  };

  [[noreturn]] void work() {
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++idle_;
      wake_.wait(lock, [this] { return !jobs_.empty(); });
      --idle_;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      serve(job.path, job.socket);
      ::close(job.socket);
      job.done.set_value();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  size_t idle_ = 0;
};

ReaderThreads& reader_threads() {
  static ReaderThreads* threads = new ReaderThreads;  // never destroyed: its threads outlive main
  return *threads;
}
#endif

}  // namespace

// ---- the parent ----

IsolatedReader::IsolatedReader(const std::string& path) : path_(path) {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
    fail_runtime(path + ": cannot create a socket for the HDF5 reader: " + std::strerror(errno));
#ifdef MODELPRESS_HDF5_READER_THREAD
  child_ = kReaderThread;
  reader_done_ = reader_threads().start(path, sockets[1]);
#else
  child_ = ::fork();
  if (child_ < 0) {
    ::close(sockets[0]);
    ::close(sockets[1]);
    fail_runtime(path + ": cannot start the HDF5 reader: " + std::strerror(errno));
  }
  if (child_ == 0) {
    ::close(sockets[0]);
    const int socket = become_reader(sockets[1]);
    bound_address_space(path);
    serve(path, socket);
    ::_exit(0);  // no atexit handlers, no flushing of the parent's files or stdio
  }
  ::close(sockets[1]);
#endif
  socket_ = sockets[0];
  try {
    request(kOpen, "", {});
  } catch (...) {
    stop();  // the constructor failed: no destructor will run
    throw;
  }
}

IsolatedReader::~IsolatedReader() { stop(); }

void IsolatedReader::stop() {
  if (socket_ >= 0) ::close(socket_);
  socket_ = -1;
  if (reader_done_.valid()) reader_done_.wait();
  if (child_ > 0) {
    // Nothing of the child's is worth waiting for; a child stuck inside libhdf5 must not block us.
    ::kill(child_, SIGKILL);
    while (::waitpid(child_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  child_ = -1;
}

void IsolatedReader::child_failed() const {
  if (child_ > 0) {
    int status = 0;
    failure_ = "it stopped answering";
    if (::waitpid(child_, &status, 0) == child_) {
      if (WIFSIGNALED(status))
        failure_ = "signal " + std::to_string(WTERMSIG(status)) + ", " + ::strsignal(WTERMSIG(status));
      else if (WIFEXITED(status))
        failure_ = "exit status " + std::to_string(WEXITSTATUS(status));
    }
    child_ = -1;
  }
  fail_input(path_, "the HDF5 library failed while reading this file (" + failure_ +
                        "); it is damaged or was not written by modelpress");
}

std::string IsolatedReader::request(uint8_t op, const std::string& name, const std::vector<int64_t>& numbers,
                                    Element element, void* into, uint64_t into_bytes) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (socket_ < 0 || child_ < 0) child_failed();
  RequestHeader r;
  r.op = op;
  r.element = static_cast<uint8_t>(element);
  r.name_bytes = static_cast<uint32_t>(name.size());
  for (size_t i = 0; i < numbers.size() && i < 3; ++i) r.numbers[i] = numbers[i];
  ReplyHeader h;
  if (!send_all(socket_, &r, sizeof r) || !send_all(socket_, name.data(), name.size()) ||
      !receive_all(socket_, &h, sizeof h))
    child_failed();
  const bool rows = into != nullptr && h.status == 0;
  // Rows come straight into the caller's buffer and must be exactly its size; anything else is
  // bounded before this process allocates for it.
  if ((rows && h.bytes != into_bytes) || (!rows && h.bytes > kMaxMetadataReply) || h.status < 0 ||
      h.status > static_cast<int32_t>(ExitCode::bad_input)) {
    ::kill(child_, SIGKILL);
    child_failed();
  }
  if (rows) {
    if (!receive_all(socket_, into, into_bytes)) child_failed();
    return {};
  }
  std::string payload(h.bytes, '\0');
  if (!receive_all(socket_, payload.data(), payload.size())) child_failed();
  if (h.status != 0) throw Error(static_cast<ExitCode>(h.status), payload);
  return payload;
}

namespace {
// Reads the child's answers, refusing any that run past their end.
class ReplyReader {
 public:
  ReplyReader(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  template <typename T>
  T number() {
    T value;
    take(&value, sizeof value);
    return value;
  }
  std::string text() {
    const auto n = number<uint64_t>();
    if (n > bytes_.size() - position_) malformed();
    std::string s = bytes_.substr(position_, n);
    position_ += n;
    return s;
  }
  std::vector<std::string> texts() {
    const auto n = number<uint64_t>();
    if (n > (bytes_.size() - position_) / sizeof(uint64_t)) malformed();
    std::vector<std::string> out;
    for (uint64_t i = 0; i < n; ++i) out.push_back(text());
    return out;
  }

 private:
  void take(void* out, size_t n) {
    if (n > bytes_.size() - position_) malformed();
    std::memcpy(out, bytes_.data() + position_, n);
    position_ += n;
  }
  [[noreturn]] void malformed() const { fail_input(path_, "the HDF5 reader sent a malformed answer; the file is damaged"); }
  const std::string& bytes_;
  const std::string& path_;
  size_t position_ = 0;
};
}  // namespace

std::string IsolatedReader::string_attribute(const std::string& name) const {
  const std::string reply = request(kString, name, {});
  const std::vector<std::string> values = ReplyReader(reply, path_).texts();
  if (values.size() != 1) fail_input(path_, "attribute '" + name + "' is not a single string");
  return values[0];
}

std::vector<std::string> IsolatedReader::string_list_attribute(const std::string& name) const {
  const std::string reply = request(kStringList, name, {});
  return ReplyReader(reply, path_).texts();
}

int64_t IsolatedReader::int_attribute(const std::string& name) const {
  const std::string reply = request(kInt, name, {});
  return ReplyReader(reply, path_).number<int64_t>();
}

double IsolatedReader::double_attribute(const std::string& name) const {
  const std::string reply = request(kDouble, name, {});
  return ReplyReader(reply, path_).number<double>();
}

RemoteDataset IsolatedReader::open_dataset(const std::string& name, Element element) const {
  const std::string reply = request(kOpenDataset, name, {}, element);
  ReplyReader in(reply, path_);
  RemoteDataset d;
  d.index = static_cast<uint32_t>(in.number<int64_t>());
  d.element = element;
  d.rows = in.number<int64_t>();
  d.row_width = in.number<int64_t>();
  d.where = path_ + ": dataset '" + name + "'";
  if (d.rows < 0 || d.row_width < 0) fail_input(d.where, "has a negative extent");
  return d;
}

void IsolatedReader::read(const RemoteDataset& dataset, int64_t start, int64_t rows, void* out) const {
  if (start < 0 || rows < 0 || start > dataset.rows - rows)
    fail_input(dataset.where, "rows [" + std::to_string(start) + ", " + std::to_string(start + rows) +
                                  ") out of range (" + std::to_string(dataset.rows) + " rows)");
  const uint64_t bytes = static_cast<uint64_t>(rows) * static_cast<uint64_t>(std::max<int64_t>(dataset.row_width, 1)) *
                         element_bytes(dataset.element);
  request(kRead, "", {dataset.index, start, rows}, dataset.element, out, bytes);
}

}  // namespace mp::h5
