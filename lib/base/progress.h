// Progress on stderr: a bar with rate and ETA on a terminal, plain lines (at most every few
// seconds) when stderr is a file or pipe, nothing with --quiet.
#pragma once
#include <chrono>
#include <string>

namespace mp {

// "12.5 tokens/s"; below 0.1 per second per minute or per hour ("3.9 layers/h"), so slow jobs
// still show a rate.
std::string format_rate(double per_second, const std::string& unit);

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();
  void advance(int64_t n = 1, const std::string& status = "");
  // Units an interrupted run finished: done, but not counted in the rate (a resume skips them in
  // moments, which would make the rest look that fast too).
  void skip(int64_t n, const std::string& status = "");
  void finish();
  static void set_quiet(bool quiet);

 private:
  void draw(bool final);
  std::string label_, unit_, status_;
  int64_t total_, done_ = 0, skipped_ = 0, drawn_ = -1;  // drawn_: done_ at the last plain line
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool terminal_, finished_ = false;
};

}  // namespace mp
