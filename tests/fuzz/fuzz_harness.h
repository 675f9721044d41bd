// What every fuzz target shares (docs/reliability.md, "Fuzzing"): a scratch directory for the files a
// parser insists on reading from disk, and the rule for judging one input. A parser may accept the
// input or refuse it with mp's bad-input error; anything else reaching the top (another exception
// type, another exit code) aborts the run, so libFuzzer keeps the input as a finding, exactly like
// a crash or a sanitizer report.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace mp::fuzz {

// Writes the bytes to `name` inside this process's scratch directory and returns the path. The
// directory is emptied before each input (see run()).
std::string write_scratch(const std::string& name, const uint8_t* data, size_t size);
std::string write_scratch(const std::string& name, const std::string& text);
// The scratch directory itself (for parsers that read a model directory).
const std::string& scratch_dir();

// Empties the scratch directory, calls parse(), and aborts on anything but success or bad input.
int run(const std::function<void()>& parse);

// Splits "HEAD\nREST" at the first newline (no newline: all of it is the head); targets whose
// parser reads two things take both from one input this way.
std::pair<std::string, std::string> split_first_line(const uint8_t* data, size_t size);

}  // namespace mp::fuzz
