#include "lib/base/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace mp {

namespace {
std::atomic<bool> g_quiet{false};

std::string format_duration(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  int s = static_cast<int>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", s / 3600, (s / 60) % 60);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  return buf;
}
}  // namespace

std::string format_rate(double per_second, const std::string& unit) {
  char buf[64];
  if (per_second >= 0.1 || per_second <= 0) std::snprintf(buf, sizeof buf, "%.1f %s/s", per_second, unit.c_str());
  else if (per_second * 60 >= 0.1) std::snprintf(buf, sizeof buf, "%.1f %s/min", per_second * 60, unit.c_str());
  else std::snprintf(buf, sizeof buf, "%.1f %s/h", per_second * 3600, unit.c_str());
  return buf;
}

void Progress::set_quiet(bool quiet) { g_quiet = quiet; }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      start_(std::chrono::steady_clock::now()), last_draw_(start_), terminal_(::isatty(STDERR_FILENO)) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n, const std::string& status) {
  done_ += n;
  status_ = status;
  auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (terminal_ ? 0.1 : 5.0) || done_ >= total_) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::skip(int64_t n, const std::string& status) {
  skipped_ += n;
  advance(n, status);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  if (g_quiet) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? (done_ - skipped_) / elapsed : 0;
  const double eta = rate > 0 ? (total_ - done_) / rate : -1;
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  char line[512];
  if (terminal_) {
    constexpr int width = 30;
    std::string bar(width, ' ');
    for (int i = 0; i < static_cast<int>(frac * width); ++i) bar[i] = '#';
    std::snprintf(line, sizeof line, "\r%s [%s] %lld/%lld %s ETA %s %s\033[K", label_.c_str(), bar.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), format_rate(rate, unit_).c_str(),
                  format_duration(final ? 0 : eta).c_str(), status_.c_str());
    std::fputs(line, stderr);
    if (final) std::fputc('\n', stderr);
  } else {
    if (drawn_ == done_) return;  // a plain line already said this
    drawn_ = done_;
    std::snprintf(line, sizeof line, "%s: %lld/%lld (%.0f%%) %s ETA %s %s\n", label_.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), 100 * frac, format_rate(rate, unit_).c_str(),
                  format_duration(final ? 0 : eta).c_str(), status_.c_str());
    std::fputs(line, stderr);
  }
  std::fflush(stderr);
}

}  // namespace mp
