#pragma once
// The final outcome of one manifest line: a value the results, the statistics and the
// engine share.

#include <cstdint>
#include <optional>
#include <string_view>

namespace jobpatch {

// Final outcome of one manifest line.
// `unchanged` (apply --skip-unchanged): the job already held what the line sets, so nothing
// was sent; it counts as done, like ok.
enum class outcome : std::uint8_t { ok, failed, invalid, skipped, unchanged };

std::string_view to_string(outcome o) noexcept;
std::optional<outcome> parse_outcome(std::string_view name) noexcept;

} // namespace jobpatch
