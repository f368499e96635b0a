#pragma once
// The Levenshtein distance behind every "did you mean" hint: misspelt keys and ops in a
// manifest, misspelt flags and subcommands on the command line.

#include <cstddef>
#include <string_view>

namespace jobpatch {

// Insertions, deletions and substitutions that turn `a` into `b`. Names longer than
// max_edit_distance_length are never near misses: the result is then larger than any
// threshold a hint uses. No allocation.
inline constexpr std::size_t max_edit_distance_length = 64;
std::size_t edit_distance(std::string_view a, std::string_view b) noexcept;

} // namespace jobpatch
