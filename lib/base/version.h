// The modelpress version and the git commit it was built from (set at configure time).
#pragma once

namespace mp {
const char* version();
const char* git_commit();
// The checkout this binary was built from: its .cache/ holds the default corpus, and ../shared sits
// beside it. Kept out of compile flags so objects are identical (and cached) across checkouts.
const char* source_dir();
}  // namespace mp
