// What produced an output. Every file modelpress writes records its provenance: the version and
// commit, the command line (or recipe step; without the output path, input paths relative to the
// working directory), the sha256 of each input and the seed, as safetensors
// __metadata__, GGUF general.modelpress.* keys or HDF5 attributes. Those records hold nothing that
// changes between two identical runs, so outputs stay byte-reproducible. Wall-clock facts (start
// time, duration, thread count) go only into the manifest.json written beside each output, which
// also lists the sha256 of every file.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mp {

class Provenance {
 public:
  // The process's record: main() sets the command, tools add their inputs and seed.
  static Provenance& current();

  // Starts a new record (and the clock) for one command, also for each step of `modelpress run`,
  // whose recipe (lib/recipe.h, active_recipe()) the record then names.
  void begin_command(const std::vector<std::string>& argv);
  // `path` is a file or a model directory; it is hashed only when an output is stamped.
  void add_input(const std::string& role, const std::string& path);
  void set_seed(uint64_t seed) { seed_ = seed; }

  // Deterministic key/value pairs, keys without a prefix ("version", "command", "input.model", ...).
  std::vector<std::pair<std::string, std::string>> stamp() const;
  // `files`: relative name → absolute path of every file of the output.
  std::string manifest_json(const std::vector<std::pair<std::string, std::string>>& files) const;

 private:
  std::string command_;           // as given: manifest.json
  std::string portable_command_;  // no output path, inputs relative: inside outputs (stamp())
  std::vector<std::pair<std::string, std::string>> inputs_;  // role, path
  mutable std::map<std::string, std::string> input_hashes_;  // path → sha256
  std::optional<uint64_t> seed_;
  std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point started_steady_ = std::chrono::steady_clock::now();

  const std::string& input_hash(const std::string& path) const;
};

// Files that hold wall-clock facts and so differ between identical runs: manifests and *.jsonl
// logs (distill-train's metrics). `name` is a file name or a path.
bool is_wall_clock_record(const std::string& name);

// sha256 of a file, or of a model directory: over the sorted "name sha256" lines of its regular
// files, leaving out manifests and metrics logs, which carry wall-clock times.
std::string sha256_of_input(const std::string& path);

// `base` plus the stamp under "modelpress.": the __metadata__ of a safetensors file.
std::map<std::string, std::string> with_provenance(std::map<std::string, std::string> base);

// manifest.json inside `dir`, over every file below it (call on the staging directory before it is
// committed, so the manifest appears with the output).
void write_directory_manifest(const std::string& dir);
// FILE.manifest.json beside a single-file output (GGUF, HDF5), after the file is in place.
void write_file_manifest(const std::string& file);

}  // namespace mp
