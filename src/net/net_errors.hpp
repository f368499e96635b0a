#pragma once
// Setup failures of the engines that main maps to an exit code of their own.

#include <stdexcept>

namespace jobpatch::net {

// The --base-url host does not resolve: the run is aborted (exit 3), as a host that stops
// resolving mid-run would abort it, not a usage error.
struct unresolvable_host : std::runtime_error {
  using std::runtime_error::runtime_error;
};

} // namespace jobpatch::net
