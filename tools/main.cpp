// modelpress: one executable, one subcommand per tool.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "lib/runtime/thread_waits.h"
#include "tools/tools.h"

int main(int argc, char** argv) {
  mp::rerun_with_passive_thread_waits(argv);  // first: nothing may have started OpenMP threads yet
  const int code = mp::tools::run_command_line(argv[0], std::vector<std::string>(argv + 1, argv + argc));
  if (code == 0) return 0;
  // After a failure, libraries' exit handlers may trip over what the failure left: HDF5 closes the
  // files it still tracks, and crashes on one whose write failed (a full disk). Every output is
  // committed or removed by now, so nothing is lost by skipping them.
  std::cout.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}
