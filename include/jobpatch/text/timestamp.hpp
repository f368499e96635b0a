#pragma once
// Timestamps as the results, summaries and metrics write them.

#include <cstdint>
#include <string>

namespace jobpatch {

// "2026-11-30T06:07:07.123Z": `unix_ms` milliseconds since the epoch, RFC 3339 in UTC.
std::string format_timestamp(std::int64_t unix_ms);
// The same appended to `out` (no allocation once `out` has room: the results stamp every
// record with it).
void append_timestamp(std::string& out, std::int64_t unix_ms);

} // namespace jobpatch
