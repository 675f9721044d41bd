// modelpress: one executable, one subcommand per tool.
#include "tools/tools.h"

int main(int argc, char** argv) {
  return mp::tools::run_command_line(argv[0], std::vector<std::string>(argv + 1, argv + argc));
}
