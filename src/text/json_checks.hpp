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

// A member of the job object as walk_job_fields() hands it over: a scalar still unread, or
// an object or array already read through (for its keys), with its JSON text.
struct job_value {
  ondemand::value& value; // a scalar to read; an object or array must not be read again
  std::string_view raw;   // an object's or array's text, as raw_json() gives it; else empty

  bool is_scalar() const noexcept { return raw.empty(); }
  bool is_object() const noexcept { return !raw.empty() && raw.front() == '{'; }
  // The string a scalar holds; false for any other value.
  bool string(std::string_view& out) { return is_scalar() && !value.get_string().get(out); }
};

// The check of walk_job_fields() that no object holds a key twice: the top-level object
// (two "job" members) and every object inside the job object, at any depth. Its lists
// are kept between documents.
class job_key_check {
public:
  enum class result { ok, repeated, unreadable };
  static constexpr std::size_t max_depth = 1024; // simdjson's DOM parser refuses deeper

  // Starts the object at `depth` (0: the top level, a new document), then its keys.
  void open(std::size_t depth) {
    keys_.open(depth);
    path_.clear();
  }
  void add(std::size_t depth, std::string_view key) { keys_.add(depth, key); }
  // True when the object at `depth`, its keys all added, holds one twice.
  bool repeats(std::size_t depth) {
    auto dup = keys_.repeated(depth);
    if (!dup) return false;
    repeated_ = *dup;
    return true;
  }
  // Reads `value`, an object or array (of type `type`) at `depth`, through, checking
  // every object in it, and sets `raw` to its JSON text. `unreadable`: not JSON as far as
  // read, or nested deeper than max_depth.
  result read_through(ondemand::value& value, ondemand::json_type type, std::size_t depth,
                      std::string_view& raw);
  // How the object holding the repeated key was reached, one step out (on the way out of
  // a `repeated` result: a key, or an array index when `key` is null).
  void step_out(std::string_view key, std::size_t index = 0) { path_.push_back({key, index}); }
  // After a repeated key: `the answer has a duplicate key "id" (in job.params)`, the key
  // and the path whole (server text: to be scrubbed before it is cut).
  void describe(std::string& out) const;

private:
  struct step {
    std::string_view key; // the member entered; data() null for an array element
    std::size_t index;
  };
  result check_value(ondemand::value& value, ondemand::json_type type, std::size_t depth);
  result check_members(ondemand::object& object, std::size_t depth);
  key_lists keys_;
  std::vector<step> path_; // filled only on the way out of a repeated key, innermost first
  std::string_view repeated_;
};

inline bool is_container(ondemand::json_type type) noexcept {
  return type == ondemand::json_type::object || type == ondemand::json_type::array;
}

// How walk_job_fields() ended.
enum class job_walk { not_object, no_job, repeated_key, done, stopped };

// The members of the job object (at depth 1) for walk_job_fields().
template <class OnField>
job_walk walk_job_members(ondemand::object& job, job_key_check& keys, OnField& on_field) {
  keys.open(1);
  for (auto member : job) {
    ondemand::field f;
    std::string_view name, raw;
    if (std::move(member).get(f) || f.unescaped_key().get(name)) return job_walk::no_job;
    keys.add(1, name);
    ondemand::value value = f.value();
    ondemand::json_type type;
    if (value.type().get(type)) return job_walk::no_job;
    if (is_container(type)) {
      auto read = keys.read_through(value, type, 2, raw);
      if (read == job_key_check::result::unreadable) return job_walk::no_job;
      if (read == job_key_check::result::repeated) {
        keys.step_out(name);
        return job_walk::repeated_key;
      }
    }
    if (!on_field(name, job_value{value, raw})) return job_walk::stopped;
  }
  return keys.repeats(1) ? job_walk::repeated_key : job_walk::done;
}

// Walks the fields of the "job" object of an API answer (`{"job": {...}}`) in document
// order, in one forward pass (On Demand cannot go back), calling `on_field(name, value)`
// (a job_value) for each; `on_field` returns false to stop (`stopped`). The document is
// read strictly: a key twice in the top-level object or in any object inside the job
// ends the walk with `repeated_key` (keys.describe() says which), also when `on_field`
// does not read the value; other top-level values are skipped. `not_object` when the
// document is not an object; `no_job` when there is no "job" object or the document
// cannot be read to its end.
template <class OnField>
job_walk walk_job_fields(ondemand::document& doc, job_key_check& keys, OnField&& on_field) {
  ondemand::object root;
  if (doc.get_object().get(root)) return job_walk::not_object;
  keys.open(0);
  bool walked = false;
  for (auto root_field : root) {
    ondemand::field field;
    std::string_view key;
    if (std::move(root_field).get(field) || field.unescaped_key().get(key)) return job_walk::no_job;
    keys.add(0, key);
    if (key != "job") continue;
    if (walked) break; // a second "job": found twice below
    ondemand::object job;
    if (field.value().get_object().get(job)) return job_walk::no_job;
    auto members = walk_job_members(job, keys, on_field);
    if (members == job_walk::repeated_key) keys.step_out(key);
    if (members != job_walk::done) return members;
    walked = true;
  }
  if (keys.repeats(0)) return job_walk::repeated_key;
  return walked ? job_walk::done : job_walk::no_job;
}

// The name among `candidates` closest to `key` (edit distance <= 2), or empty.
std::string_view closest_name(std::string_view key,
                              std::span<const std::string_view> candidates) noexcept;

// `unknown key "taskTimout" (did you mean "taskTimeout"?)` or with the expected list.
std::string unknown_key_message(std::string_view where, std::string_view key,
                                std::span<const std::string_view> expected);

} // namespace jobpatch::detail
