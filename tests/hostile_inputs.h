// Generators of broken inputs for tests/test_hostile_*.cpp, and the checks they all make: bad input
// ends in exit code 3 and one line naming the file and the field, with no output, no partial file.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/test_support.h"

namespace mp::test {

// A copy of stories260K in `dir` (created), its config.json the original after `edit`.
std::string stories_with_config(const std::string& dir, const std::function<void(nlohmann::json&)>& edit);
// The same, config.json replaced by `text`.
std::string stories_with_config_text(const std::string& dir, const std::string& text);
// A JSON document of one value nested `depth` arrays deep.
std::string deeply_nested_json(int depth);
// Rewrites the safetensors file in `dir` that holds tensor `name` (model.safetensors or a shard),
// replacing that tensor by `edit` of it; the other tensors and the metadata stay as they were.
void rewrite_tensor(const std::string& dir, const std::string& name, const std::function<at::Tensor(at::Tensor)>& edit);
// Shell-quoted.
std::string quoted(const std::string& path);

// Exit code 3, and stderr is one line that names `file` and `field`.
void require_bad_input(const CommandResult& r, const std::string& file, const std::string& field);
// `dir` holds no `output` and nothing a failed run leaves behind (temporaries, locks, staging).
void require_no_output(const std::string& dir, const std::string& output);

}  // namespace mp::test
