#pragma once
// Private helpers shared by the line and body validators and the answer parsers: simdjson
// error wording, value descriptions for messages, key suggestions, keys given twice, the
// job object's walk. Includes simdjson.h: keep it out of public headers.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// The keys of the objects being read, one list per nesting depth, to find a key that one
// object holds twice. Keys are compared as unescaped: "id" and "\u0069d" are one key. The
// lists keep their capacity from one document to the next (no allocation once warm).
class key_lists {
public:
  // Starts the list of the object at `depth`, forgetting what it held.
  void open(std::size_t depth) {
    if (depth >= lists_.size()) lists_.resize(depth + 1);
    list& l = lists_[depth];
    l.keys.clear();
    l.filter = 0;
    l.repeats = false;
  }
  void add(std::size_t depth, std::string_view key) {
    list& l = lists_[depth];
    if (l.keys.size() < compared_as_added) {
      std::uint64_t bit = filter_bit(key);
      if ((l.filter & bit) != 0) compare_with_earlier(l, key);
      l.filter |= bit;
    }
    l.keys.push_back(key);
  }
  // A key the object at `depth` holds twice, if any (once all its keys are added).
  std::optional<std::string_view> repeated(std::size_t depth) {
    list& l = lists_[depth];
    if (l.repeats) return l.repeated_key;
    if (l.keys.size() <= compared_as_added) return std::nullopt;
    return repeated_in_sorted(l);
  }

private:
  // The first keys of an object are compared with the earlier ones as they come, and only
  // when a 64-bit filter says that one of those may be equal; a long list (a server may
  // send thousands of keys) is sorted once complete instead.
  static constexpr std::size_t compared_as_added = 32;
  struct list {
    std::vector<std::string_view> keys;
    std::uint64_t filter = 0; // a bit per key of the first compared_as_added
    bool repeats = false;     // `repeated_key` is held twice
    std::string_view repeated_key;
  };
  // Keys of one length and first and last byte share a bit; the keys of an object mostly
  // differ in those.
  static std::uint64_t filter_bit(std::string_view key) noexcept {
    unsigned mix = key.empty() ? 0u
                               : static_cast<unsigned char>(key.front()) * 5u +
                                     static_cast<unsigned char>(key.back()) * 3u;
    return std::uint64_t{1} << ((key.size() + mix) & 63u);
  }
  static void compare_with_earlier(list& l, std::string_view key) noexcept;
  static std::optional<std::string_view> repeated_in_sorted(list& l);
  std::vector<list> lists_;
};

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
