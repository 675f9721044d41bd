// The `modelpress` app: every tool registered, and the one place errors become exit codes.
#include <cstdio>
#include <exception>

#include "lib/base/error.h"
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
  add_run(*app);
  return app;
}

int run_command_line(const std::string& program, const std::vector<std::string>& args) {
  auto app = make_app();
  app->name(program);
  try {
    std::vector<std::string> argv{program};
    argv.insert(argv.end(), args.begin(), args.end());
    Provenance::current().begin_command(argv);
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
    app->parse(reversed);
  } catch (const CLI::Success& e) {
    return app->exit(e);
  } catch (const CLI::ParseError& e) {
    app->exit(e);
    return static_cast<int>(mp::ExitCode::usage);
  } catch (const mp::Error& e) {
    std::fprintf(stderr, "modelpress: error: %s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "modelpress: error: %s\n", e.what());
    return static_cast<int>(mp::ExitCode::runtime_failure);
  }
  return 0;
}

}  // namespace mp::tools
