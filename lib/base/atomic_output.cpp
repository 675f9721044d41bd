#include "lib/base/atomic_output.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "lib/base/error.h"

namespace fs = std::filesystem;

namespace mp {

namespace {
// A hidden name beside `path`, so that the final rename stays within one file system.
std::string hidden_sibling(const std::string& path, const std::string& suffix) {
  fs::path p(path);
  if (p.filename().empty()) p = p.parent_path();  // "out/" names the directory out
  return (p.parent_path() / ("." + p.filename().string() + suffix)).string();
}
// Unique to this process, so concurrent writers of the same output do not collide.
std::string temporary_sibling(const std::string& path, const char* tag) {
  return hidden_sibling(path, tag + std::to_string(::getpid()));
}
// A directory output is made with its parents (out/run-1/ needs no out/ first); its lock sits in
// the parent, so the parents come before it.
std::string with_parent_directories(std::string path) {
  const fs::path parent = fs::path(hidden_sibling(path, "")).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  return path;
}
// The siblings `.NAME<tag>PID` of `path` that a process made with temporary_sibling().
std::vector<fs::path> temporaries_of(const std::string& path, const char* tag) {
  const fs::path prefix_path(hidden_sibling(path, tag));
  const std::string prefix = prefix_path.filename().string();
  const fs::path parent = prefix_path.parent_path().empty() ? fs::path(".") : prefix_path.parent_path();
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
      found.push_back(entry.path());
  }
  return found;
}
// What a killed run left behind. Called with the output's lock held: its holder is the only writer,
// so none of it is in use. Its temporaries (`.NAME.partial-PID`) go. A directory output it was
// replacing was moved aside as `.NAME.previous-PID`: if the kill came before the new one took its
// place, the previous output is put back (the path held a complete output and holds it again);
// otherwise it is removed.
void clean_up_after_killed_runs(const std::string& path) {
  std::error_code ec;
  for (const auto& p : temporaries_of(path, ".partial-")) fs::remove_all(p, ec);
  std::vector<fs::path> previous = temporaries_of(path, ".previous-");
  if (!previous.empty() && !fs::exists(path)) {
    // Only one run can be between its two renames at a time, so at most one is waiting to go back.
    fs::rename(previous.back(), path, ec);
    if (!ec) previous.pop_back();
  }
  for (const auto& p : previous) fs::remove_all(p, ec);
}
// The files a killed run was writing inside a resumed staging directory: their locks and their
// temporaries, which would otherwise end up in the committed output. The directory's own lock is
// held, so no other run writes there.
void clean_up_killed_file_writes(const std::string& dir) {
  std::error_code ec;
  std::vector<fs::path> leftovers;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool lock = name.size() > 5 && name.compare(name.size() - 5, 5, ".lock") == 0;
    if (name[0] == '.' && (lock || name.find(".partial-") != std::string::npos)) leftovers.push_back(entry.path());
  }
  for (const auto& p : leftovers) fs::remove_all(p, ec);
}
}  // namespace

OutputLock::OutputLock(const std::string& path) : lock_path_(hidden_sibling(path, ".lock")) {
  const fs::path parent = fs::path(lock_path_).parent_path();
  if (!parent.empty() && !fs::is_directory(parent)) fail_input(path, "no such directory");
  // The lock file may be removed by the run that held it between our open and our flock: then the
  // descriptor names a dead file, and the lock is taken again on the new one.
  for (int attempt = 0; attempt < 8; ++attempt) {
    fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail_input(path, std::string("cannot create output: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
      fail_input(path, "another modelpress run is writing this output now");
    }
    struct stat held {}, named {};
    if (::fstat(fd_, &held) == 0 && ::stat(lock_path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      clean_up_after_killed_runs(path);
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  fail_input(path, "cannot lock the output: its lock file keeps changing");
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(lock_path_.c_str());  // while still held, so the next run locks a fresh file
  ::close(fd_);
}

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), temp_path_(to_stdout() ? "" : temporary_sibling(path_, ".partial-")) {
  if (to_stdout()) {
    file_ = stdout;
    return;
  }
  if (fs::is_directory(path_)) fail_input(path_, "is a directory; give a file name for the output");
  lock_ = std::make_unique<OutputLock>(path_);
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (!file_) fail_input(path_, std::string("cannot create: ") + std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (to_stdout()) {
    std::fflush(stdout);
  } else if (file_) {
    std::fclose(file_);
    std::remove(temp_path_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t bytes) {
  if (bytes && std::fwrite(data, 1, bytes, file_) != bytes)
    fail_runtime((to_stdout() ? std::string("standard output") : path_) + ": write failed: " + std::strerror(errno));
  written_ += bytes;
}

void AtomicFile::commit() {
  if (to_stdout()) {
    if (std::fflush(stdout) != 0) fail_runtime("standard output: write failed: " + std::string(std::strerror(errno)));
    return;
  }
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    fail_runtime(path_ + ": write failed: " + std::strerror(errno));
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    std::remove(temp_path_.c_str());
    fail_runtime(path_ + ": cannot rename into place: " + std::strerror(errno));
  }
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  AtomicFile f(path);
  f.write(contents.data(), contents.size());
  f.commit();
}

AtomicDirectory::AtomicDirectory(std::string path, Partial partial)
    : path_(with_parent_directories(std::move(path))),
      lock_(path_),
      staging_(partial == Partial::discard ? temporary_sibling(path_, ".partial-")
                                           : hidden_sibling(path_, ".resumable")) {
  if (partial == Partial::discard) start(false);
}

void AtomicDirectory::start(bool continue_previous) {
  std::error_code ec;
  if (!continue_previous) fs::remove_all(staging_, ec);
  ec.clear();
  fs::create_directories(staging_, ec);
  if (ec || !fs::is_directory(staging_)) fail_input(path_, "cannot create output directory: " + ec.message());
  if (continue_previous) clean_up_killed_file_writes(staging_);
  started_ = true;
}

AtomicDirectory::~AtomicDirectory() {
  if (started_ && !committed_ && !kept_) {
    std::error_code ec;
    fs::remove_all(staging_, ec);
  }
}

void AtomicDirectory::commit() {
  std::error_code ec;
  std::string previous;
  if (fs::exists(path_)) {
    previous = temporary_sibling(path_, ".previous-");
    fs::rename(path_, previous, ec);
    if (ec) fail_runtime(path_ + ": cannot move the existing output aside: " + ec.message());
  }
  fs::rename(staging_, path_, ec);
  if (ec) {
    if (!previous.empty()) fs::rename(previous, path_, ec);
    fail_runtime(path_ + ": cannot rename into place: " + ec.message());
  }
  committed_ = true;
  if (!previous.empty()) fs::remove_all(previous, ec);
}

AtomicPath::AtomicPath(std::string path, Partial partial)
    : path_(std::move(path)),
      lock_(path_),  // also checks the directory, which the writer would name by the hidden temporary
      temp_path_(partial == Partial::discard ? temporary_sibling(path_, ".partial-")
                                             : hidden_sibling(path_, ".resumable")),
      partial_(partial) {
  if (fs::is_directory(path_)) fail_input(path_, "is a directory; give a file name for the output");
}

AtomicPath::~AtomicPath() {
  if (!committed_ && partial_ == Partial::discard) std::remove(temp_path_.c_str());
}

void AtomicPath::commit() {
  int fd = ::open(temp_path_.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    fail_runtime(path_ + ": cannot flush " + temp_path_ + ": " + std::strerror(errno));
  }
  ::close(fd);
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0)
    fail_runtime(path_ + ": cannot rename into place: " + std::strerror(errno));
  committed_ = true;
}

}  // namespace mp
