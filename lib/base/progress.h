// Progress on stderr: a bar with rate and ETA on a terminal, plain lines (at most every few
// seconds) when stderr is a file or pipe, nothing with --quiet.
#pragma once
#include <chrono>
#include <string>

namespace mp {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();
  void advance(int64_t n = 1, const std::string& status = "");
  void finish();
  static void set_quiet(bool quiet);

 private:
  void draw(bool final);
  std::string label_, unit_, status_;
  int64_t total_, done_ = 0, drawn_ = -1;  // drawn_: done_ at the last plain line
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool terminal_, finished_ = false;
};

}  // namespace mp
