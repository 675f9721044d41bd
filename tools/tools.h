// Each tool adds its subcommand to the app: options, then a callback that calls the library.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace mp::tools {

void add_inspect(CLI::App& app);
void add_eval(CLI::App& app);
void add_generate(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_quantize(CLI::App& app);
void add_distill_train(CLI::App& app);
void add_export(CLI::App& app);
void add_imatrix(CLI::App& app);
void add_tokenizer_train(CLI::App& app);
void add_compare(CLI::App& app);
void add_prune(CLI::App& app);
void add_speculate(CLI::App& app);
void add_run(CLI::App& app);

// A fresh `modelpress` app with every tool: `run` builds one per recipe step, to check the step's
// arguments and then to run it exactly as the command line would.
std::unique_ptr<CLI::App> make_app();
// Parses and runs one command line (`args` without the program name); returns the exit code and
// reports errors on stderr, as `modelpress` itself does.
int run_command_line(const std::string& program, const std::vector<std::string>& args);

}  // namespace mp::tools
