// Outputs appear whole or not at all: everything is written under a temporary name in the same
// directory and renamed into place on commit(). Destroyed without commit(), the temporary is removed
// and an existing output is left untouched. An AtomicFile named "-" streams to standard output
// instead (for writers that never seek): a failure there is reported, but what was sent stays sent.
#pragma once
#include <cstdio>
#include <memory>
#include <string>

namespace mp {

// Held while an output is written: `.NAME.lock` beside it, flock'ed, so that a second run writing
// the same output at once fails clearly instead of both renaming into place. Removed on release.
// Taking it first tidies up after runs killed while writing this output (see atomic_output.cpp).
class OutputLock {
 public:
  explicit OutputLock(const std::string& path);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::string lock_path_;
  int fd_ = -1;
};

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  uint64_t bytes_written() const { return written_; }
  const std::string& path() const { return path_; }
  void commit();  // flush, fsync, rename over `path` (stdout: flush)

 private:
  bool to_stdout() const { return path_ == "-"; }
  std::string path_;
  std::unique_ptr<OutputLock> lock_;  // none for stdout
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  uint64_t written_ = 0;
};

// Write a small file (config, JSON, manifest) atomically.
void write_file_atomically(const std::string& path, const std::string& contents);

// A discardable directory is staged under a unique temporary name, created at once. A resumable
// one is staged as `.NAME.resumable` beside `path`, created by start(), either empty or as an
// interrupted run left it; a run that stops early calls keep() so that it (like a killed run)
// leaves it for the next one. Destroyed without commit() or keep(), the staging directory is removed.
class AtomicDirectory {
 public:
  enum class Partial { discard, keep_for_resume };
  explicit AtomicDirectory(std::string path, Partial partial = Partial::discard);
  ~AtomicDirectory();
  AtomicDirectory(const AtomicDirectory&) = delete;
  AtomicDirectory& operator=(const AtomicDirectory&) = delete;

  void start(bool continue_previous);  // keep_for_resume only: before the first file is written
  // Where files go until commit(); join file names onto this.
  const std::string& staging() const { return staging_; }
  std::string file(const std::string& name) const { return staging_ + "/" + name; }
  void keep() { kept_ = true; }
  void commit();  // replace `path` (if it exists) by the staging directory

 private:
  std::string path_;
  OutputLock lock_;
  std::string staging_;
  bool started_ = false, committed_ = false, kept_ = false;
};

// For writers that insist on a path of their own (HDF5): they write to temp_path(), and commit()
// renames it over path(). A discardable temporary is removed when never committed. A resumable one
// has a fixed name and survives, so an interrupted run can reopen it and continue.
class AtomicPath {
 public:
  enum class Partial { discard, keep_for_resume };
  explicit AtomicPath(std::string path, Partial partial = Partial::discard);
  ~AtomicPath();
  AtomicPath(const AtomicPath&) = delete;
  AtomicPath& operator=(const AtomicPath&) = delete;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  void commit();  // the writer has closed temp_path(): fsync it, rename over `path`

 private:
  std::string path_;
  OutputLock lock_;
  std::string temp_path_;
  Partial partial_;
  bool committed_ = false;
};

}  // namespace mp
