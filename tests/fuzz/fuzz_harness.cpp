#include "tests/fuzz/fuzz_harness.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <typeinfo>

#include "lib/base/error.h"

namespace fs = std::filesystem;

namespace mp::fuzz {

const std::string& scratch_dir() {
  // One directory per process (libFuzzer's -jobs/-fork run several), in memory when /dev/shm exists.
  // Never freed: the exit handler that removes it runs after static destructors would have.
  static const std::string* dir = [] {
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    const fs::path d = base / ("modelpress-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] { std::error_code ec; fs::remove_all(scratch_dir(), ec); });
    return new std::string(d.string());
  }();
  return *dir;
}

std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.flush()) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

std::string write_scratch(const std::string& name, const std::string& text) {
  return write_scratch(name, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

int run(const std::function<void()>& parse) {
  for (const auto& entry : fs::directory_iterator(scratch_dir())) fs::remove_all(entry.path());
  try {
    parse();
  } catch (const Error& e) {
    if (e.code() == ExitCode::bad_input) return 0;
    std::fprintf(stderr, "FINDING: mp::Error with exit code %d (not bad input): %s\n", static_cast<int>(e.code()),
                 e.what());
    std::abort();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FINDING: %s reached the top: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "FINDING: a non-std exception reached the top\n");
    std::abort();
  }
  return 0;
}

std::pair<std::string, std::string> split_first_line(const uint8_t* data, size_t size) {
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t newline = all.find('\n');
  if (newline == std::string::npos) return {all, ""};
  return {all.substr(0, newline), all.substr(newline + 1)};
}

}  // namespace mp::fuzz
