#pragma once
// Build identity, printed by `jobpatch --version`.

#include <string>

namespace jobpatch {

// "jobpatch 0.1.0 (simdjson 3.0.1, On Demand kernel: haswell, runtime best: haswell)"
std::string version_text();

} // namespace jobpatch
