// Each tool adds its subcommand to the app: options, then a callback that calls the library.
#pragma once
#include <CLI/CLI.hpp>

namespace mp::tools {

void add_inspect(CLI::App& app);
void add_eval(CLI::App& app);
void add_generate(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_quantize(CLI::App& app);
void add_distill_train(CLI::App& app);
void add_export(CLI::App& app);
void add_tokenizer_train(CLI::App& app);
void add_compare(CLI::App& app);

}  // namespace mp::tools
