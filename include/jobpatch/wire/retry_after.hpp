#pragma once
// Parsing of the HTTP Retry-After header (RFC 9110 §10.2.3) into a wait. The value
// comes from the network, so every input is handled without undefined behaviour.

#include <chrono>
#include <optional>
#include <string_view>

namespace jobpatch {

// Waits longer than this are clamped: a server asking for more is misconfigured, and the
// retry policy and deadline decide what to do with a long wait anyway.
inline constexpr std::chrono::milliseconds max_retry_after_wait = std::chrono::hours(24);

// Parses delta-seconds ("120") or an HTTP-date in any of the three RFC 9110 forms
// (IMF-fixdate, RFC 850, asctime) relative to `now`. A date in the past gives 0; waits
// are clamped to max_retry_after_wait; surrounding spaces/tabs are ignored; anything
// else (empty, signs, fractions, bad dates, trailing bytes) gives nullopt.
std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) noexcept;

} // namespace jobpatch
