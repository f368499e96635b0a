#pragma once
// Private helpers shared by the line and body validators and the answer parsers: simdjson
// error wording, value descriptions for messages, key suggestions, the job object's walk. Includes
// simdjson.h: keep it out of public headers.

#include <simdjson.h>

#include <span>
#include <string>
#include <string_view>

namespace jobpatch::detail {

namespace ondemand = simdjson::ondemand;

// A text simdjson may read: `size` bytes at `data`, with at least SIMDJSON_PADDING more
// readable bytes behind them (`capacity` counts both).
struct padded_input {
  const char* data;
  std::size_t size;
  std::size_t capacity;
};

// `text` itself when `readable` (bytes readable from text.data()) covers the padding;
// otherwise a copy in `scratch` (whose capacity is kept for the next call).
padded_input pad_for_simdjson(std::string_view text, std::size_t readable, std::string& scratch);

// True when the whole document has been read (nothing trails the top-level value).
bool at_document_end(ondemand::document& doc) noexcept;

// A raw scalar token without the whitespace simdjson leaves after it.
std::string_view trim_token(std::string_view token) noexcept;

// Our own wording for a simdjson error code (its error_message() is prose that may change).
std::string_view describe_json_error(simdjson::error_code code) noexcept;

// describe_json_error for an error met while reading `document` (the whole text): when
// a complete value is followed by more text (a NUL, a "// comment", another value), which
// simdjson reports as trailing content or as an unclosed object or array, the message says
// so and shows what trails.
std::string describe_json_error(simdjson::error_code code, std::string_view document);

// What follows the first complete JSON value of `text`, whitespace skipped; empty when
// nothing does or the value does not close.
std::string_view text_after_value(std::string_view text) noexcept;

// "string \"abc\"", "number 1.5", "object", "array", "null", "boolean true": what a value
// (or a whole document) is, for "must be X, got Y" messages. Call it only on the error
// path: it may consume the value.
// Returns invalid_json when the value is not even valid JSON.
inline constexpr std::string_view invalid_json = "invalid JSON";
std::string describe_value(ondemand::value& value);
std::string describe_value(ondemand::document& value);

// How json_equal() treats the keys of objects.
enum class json_match {
  equal,      // the same keys on both sides
  sent_in_got // every key of the first is in the second, which may hold more (server defaults)
};

// JSON equality by meaning: numbers by value (600 and 600.0 are one number; integers are
// compared exactly), objects whatever their key order, arrays element by element. With
// `int64_strings`, an int64 written as a string ("600") equals the number (proto3 JSON).
bool json_equal(simdjson::dom::element a, simdjson::dom::element b, json_match match,
                bool int64_strings);

// How walk_job_fields() ended.
enum class job_walk { no_job, done, stopped };

// Walks the fields of the "job" object of an API answer (`{"job": {...}}`, other top-level
// keys skipped) in document order (On Demand reads forward only), calling
// `on_field(name, value)` for each; `on_field` returns false to stop (`stopped`). `no_job`
// when there is no "job" object or it cannot be read to its end.
template <class OnField>
job_walk walk_job_fields(ondemand::object& root, OnField&& on_field) {
  for (auto root_field : root) {
    ondemand::field field;
    std::string_view key;
    if (std::move(root_field).get(field) || field.unescaped_key().get(key)) break;
    if (key != "job") continue;
    ondemand::object job;
    if (field.value().get_object().get(job)) break;
    for (auto member : job) {
      ondemand::field f;
      std::string_view name;
      if (std::move(member).get(f) || f.unescaped_key().get(name)) return job_walk::no_job;
      ondemand::value value = f.value();
      if (!on_field(name, value)) return job_walk::stopped;
    }
    return job_walk::done;
  }
  return job_walk::no_job;
}

// The name among `candidates` closest to `key` (edit distance <= 2), or empty.
std::string_view closest_name(std::string_view key,
                              std::span<const std::string_view> candidates) noexcept;

// `unknown key "taskTimout" (did you mean "taskTimeout"?)` or with the expected list.
std::string unknown_key_message(std::string_view where, std::string_view key,
                                std::span<const std::string_view> expected);

} // namespace jobpatch::detail
