// modelpress inspect FILE|DIR: tensors, shapes, dtypes, metadata, parameter count, bytes.
#include <iostream>

#include "formats/inventory.h"
#include "tools/tools.h"

namespace mp::tools {

void add_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "List a model's tensors, shapes, dtypes and metadata");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("path", *path, "safetensors file, GGUF file or checkpoint directory")->required();
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([=] {
    Inventory inv = inspect_path(*path);
    std::cout << (*json ? inv.to_json().dump(2) + "\n" : inv.to_text());
  });
}

}  // namespace mp::tools
