#pragma once
// Private helpers shared by the line and body validators: simdjson error wording, value
// descriptions for messages, key suggestions. Includes simdjson.h: keep it out of
// public headers.

#include <simdjson.h>

#include <span>
#include <string>
#include <string_view>

namespace jobpatch::detail {

namespace ondemand = simdjson::ondemand;

// True when the whole document has been read (nothing trails the top-level value).
bool at_document_end(ondemand::document& doc) noexcept;

// A raw scalar token without the whitespace simdjson leaves after it.
std::string_view trim_token(std::string_view token) noexcept;

// Our own wording for a simdjson error code (its error_message() is prose that may change).
std::string_view describe_json_error(simdjson::error_code code) noexcept;

// "string \"abc\"", "number 1.5", "object", "array", "null", "boolean true": what a value
// (or a whole document) is, for "must be X, got Y" messages. Call it only on the error
// path: it may consume the value.
// Returns invalid_json when the value is not even valid JSON.
inline constexpr std::string_view invalid_json = "invalid JSON";
std::string describe_value(ondemand::value& value);
std::string describe_value(ondemand::document& value);

// The name among `candidates` closest to `key` (edit distance <= 2), or empty.
std::string_view closest_name(std::string_view key,
                              std::span<const std::string_view> candidates) noexcept;

// `unknown key "taskTimout" (did you mean "taskTimeout"?)` or with the expected list.
std::string unknown_key_message(std::string_view where, std::string_view key,
                                std::span<const std::string_view> expected);

} // namespace jobpatch::detail
