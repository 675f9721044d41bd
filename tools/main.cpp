// modelpress: one executable, one subcommand per tool.
#include <cstdio>
#include <exception>

#include "lib/error.h"
#include "lib/version.h"
#include "tools/tools.h"

int main(int argc, char** argv) {
  CLI::App app{"modelpress: quantize, distill, evaluate and export large language models"};
  app.set_version_flag("--version", std::string("modelpress ") + mp::version() + " (" + mp::git_commit() + ")");
  app.require_subcommand(1);
  mp::tools::add_inspect(app);
  mp::tools::add_eval(app);
  mp::tools::add_generate(app);
  mp::tools::add_tokenize(app);
  mp::tools::add_quantize(app);
  mp::tools::add_distill_train(app);
  mp::tools::add_export(app);
  mp::tools::add_tokenizer_train(app);
  mp::tools::add_compare(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
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
