// Where modelpress's own files are: the launcher finds the engine, and the engine the SentencePiece
// module, the same way, so a build tree works in place and an installed tree can move as a whole.
#pragma once

#include <filesystem>
#include <string>

namespace mp {

// `name` beside the running executable (a build tree, or the engine in <prefix>/lib/modelpress)
// if it is there, otherwise in ../lib/modelpress/ relative to the executable (<prefix>/bin after
// `cmake --install` or the .deb). Just `name` when /proc/self/exe cannot be read.
std::filesystem::path installed_file(const std::string& name);

}  // namespace mp
