// The modelpress version and the git commit it was built from (set at configure time).
#pragma once

namespace mp {
const char* version();
const char* git_commit();
}  // namespace mp
