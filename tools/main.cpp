// modelpress: one executable, one subcommand per tool.
#include "lib/runtime/openmp_wait.h"
#include "tools/tools.h"

int main(int argc, char** argv) {
  mp::rerun_with_passive_openmp_wait(argv);  // first: nothing may have started OpenMP threads yet
  return mp::tools::run_command_line(argv[0], std::vector<std::string>(argv + 1, argv + argc));
}
