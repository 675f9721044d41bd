// Strings that came from files (token pieces, metadata, tensor names, paths in error messages) are
// escaped before they reach a terminal: a control byte could move the cursor, rewrite the title or
// hide the line before it. Everything else, valid UTF-8 included, passes unchanged.
#pragma once
#include <string>

namespace mp {

enum class Newlines { escape, keep };

// C0 controls and DEL as \xNN, C1 controls (U+0080..U+009F) as \u00NN; newlines and tabs kept
// only when asked (generated text).
std::string terminal_safe(const std::string& text, Newlines newlines = Newlines::escape);

}  // namespace mp
