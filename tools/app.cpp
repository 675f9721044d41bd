// The `modelpress` app: every tool registered; errors become exit codes in run_reporting_errors.
#include <csignal>

#include "lib/base/error.h"
#include "lib/base/report_errors.h"
#include "lib/pipeline/provenance.h"
#include "lib/base/version.h"
#include "tools/tools.h"

namespace mp::tools {

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>("modelpress: quantize, distill, evaluate and export large language models");
  app->set_version_flag("--version", std::string("modelpress ") + mp::version() + " (" + mp::git_commit() + ")");
  app->require_subcommand(1);
  add_inspect(*app);
  add_eval(*app);
  add_generate(*app);
  add_tokenize(*app);
  add_quantize(*app);
  add_distill_train(*app);
  add_export(*app);
  add_imatrix(*app);
  add_tokenizer_train(*app);
  add_compare(*app);
  add_prune(*app);
  add_speculate(*app);
  add_run(*app);
  return app;
}

int run_command_line(const std::string& program, const std::vector<std::string>& args) {
  auto app = make_app();
  app->name(program);
  // Past a file size limit (ulimit -f), write() must fail with EFBIG, reported like a full disk,
  // rather than the process dying with the temporary file left behind.
  std::signal(SIGXFSZ, SIG_IGN);
  return mp::run_reporting_errors([&] {
    try {
      std::vector<std::string> argv{program};
      argv.insert(argv.end(), args.begin(), args.end());
      Provenance::current().begin_command(argv);
      std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
      app->parse(reversed);
      return 0;
    } catch (const CLI::Success& e) {
      return app->exit(e);
    } catch (const CLI::ParseError& e) {
      app->exit(e);
      return static_cast<int>(mp::ExitCode::usage);
    }
  });
}

}  // namespace mp::tools
