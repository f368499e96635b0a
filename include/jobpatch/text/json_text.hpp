#pragma once
// Small, allocation-free helpers to write JSON text (results, summaries, journals).

#include <cstdint>
#include <string>
#include <string_view>

namespace jobpatch {

// Appends `s` as a quoted JSON string. Control characters are escaped; bytes that are not
// valid UTF-8 become U+FFFD so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view s);

// Appends an unsigned / signed integer in decimal.
void append_uint(std::string& out, std::uint64_t v);
void append_int(std::string& out, std::int64_t v);

// Appends a finite double with up to `decimals` digits after the point ("3.25").
void append_fixed(std::string& out, double v, int decimals);

// Returns a short, printable excerpt of `s` for error messages: at most `max_bytes`
// bytes, cut on a UTF-8 boundary, with "..." appended when cut.
std::string excerpt(std::string_view s, std::size_t max_bytes = 40);

} // namespace jobpatch
