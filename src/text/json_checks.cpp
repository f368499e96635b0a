#include "text/json_checks.hpp"

#include <jobpatch/text/edit_distance.hpp>
#include <jobpatch/text/json_text.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

namespace jobpatch::detail {

padded_input pad_for_simdjson(std::string_view text, std::size_t readable, std::string& scratch) {
  if (readable >= text.size() + simdjson::SIMDJSON_PADDING)
    return {text.data(), text.size(), readable};
  scratch.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  scratch.assign(text);
  return {scratch.data(), scratch.size(), scratch.capacity()};
}

bool at_document_end(ondemand::document& doc) noexcept {
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

std::string_view trim_token(std::string_view token) noexcept {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                            token.back() == '\r'))
    token.remove_suffix(1);
  return token;
}

std::string_view describe_json_error(simdjson::error_code code) noexcept {
  using simdjson::error_code;
  switch (code) {
  case error_code::UTF8_ERROR:
    return "invalid UTF-8";
  case error_code::DEPTH_ERROR:
    return "invalid JSON: nested too deeply";
  case error_code::UNCLOSED_STRING:
    return "invalid JSON: unclosed string";
  case error_code::STRING_ERROR:
    return "invalid JSON: bad string escape";
  case error_code::UNESCAPED_CHARS:
    return "invalid JSON: unescaped control character in string";
  case error_code::NUMBER_ERROR:
    return "invalid JSON: malformed number";
  case error_code::NUMBER_OUT_OF_RANGE:
    return "invalid JSON: number out of range";
  case error_code::T_ATOM_ERROR:
    return "invalid JSON: bad literal (expected true)";
  case error_code::F_ATOM_ERROR:
    return "invalid JSON: bad literal (expected false)";
  case error_code::N_ATOM_ERROR:
    return "invalid JSON: bad literal (expected null)";
  case error_code::EMPTY:
    return "invalid JSON: empty document";
  case error_code::TRAILING_CONTENT:
    return "invalid JSON: trailing content after the value";
  case error_code::INCOMPLETE_ARRAY_OR_OBJECT:
    return "invalid JSON: unclosed object or array";
  default:
    return "invalid JSON: malformed structure";
  }
}

namespace {
bool is_json_whitespace(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
} // namespace

std::string_view text_after_value(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size() && is_json_whitespace(text[i])) ++i;
  int depth = 0;
  bool in_string = false, closed = false;
  for (; i < text.size() && !closed; ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        closed = depth == 0;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      closed = --depth <= 0;
    } else if (depth == 0 && is_json_whitespace(c)) {
      closed = true; // the end of a top-level scalar
    }
  }
  if (!closed) return {};
  while (i < text.size() && is_json_whitespace(text[i])) ++i;
  return text.substr(i);
}

std::string describe_json_error(simdjson::error_code code, std::string_view document) {
  if (code == simdjson::TRAILING_CONTENT || code == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) {
    std::string_view trailing = text_after_value(document);
    if (!trailing.empty()) {
      std::string message = "invalid JSON: unexpected text after the JSON value: ";
      append_json_string(message, excerpt(trailing, 20));
      return message;
    }
  }
  return std::string(describe_json_error(code));
}

namespace {
template <class Value>
std::string describe(Value& value) {
  ondemand::json_type type;
  if (value.type().get(type)) return std::string(invalid_json);
  switch (type) {
  case ondemand::json_type::object:
    return "object";
  case ondemand::json_type::array:
    return "array";
  // Atoms are judged by their whole token alone: at the root, simdjson 3.0.1's atom
  // checks read past the end of the input ("nullq" passed, "null " failed, depending on
  // what followed), which made a line's message depend on the bytes after it.
  case ondemand::json_type::null: {
    if (trim_token(value.raw_json_token()) != "null") return std::string(invalid_json);
    return "null";
  }
  case ondemand::json_type::boolean: {
    std::string_view token = trim_token(value.raw_json_token());
    if (token != "true" && token != "false") return std::string(invalid_json);
    return token == "true" ? "boolean true" : "boolean false";
  }
  case ondemand::json_type::string:
  case ondemand::json_type::number: {
    std::string_view token = trim_token(value.raw_json_token());
    std::string out = type == ondemand::json_type::string ? "string " : "number ";
    out += excerpt(token);
    return out;
  }
  }
  return "an unknown value";
}
} // namespace

std::string describe_value(ondemand::value& value) { return describe(value); }
std::string describe_value(ondemand::document& value) { return describe(value); }

namespace {
bool equal_ignoring_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}
} // namespace

std::string_view closest_name(std::string_view key,
                              std::span<const std::string_view> candidates) noexcept {
  std::string_view best;
  std::size_t best_distance = 3;
  for (auto candidate : candidates) {
    std::size_t d = equal_ignoring_case(key, candidate) ? 0 : edit_distance(key, candidate);
    std::size_t allowed = candidate.size() >= 6 ? 2 : 1; // "a" is not a typo of "op"
    if (d <= allowed && d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string unknown_key_message(std::string_view where, std::string_view key,
                                std::span<const std::string_view> expected) {
  std::string out(where);
  out += where.empty() ? "unknown key " : ": unknown key ";
  append_json_string(out, excerpt(key));
  if (auto hint = closest_name(key, expected); !hint.empty()) {
    out += " (did you mean \"";
    out += hint;
    out += "\"?)";
    return out;
  }
  out += " (expected ";
  bool first = true;
  for (auto name : expected) {
    if (!first) out += ", ";
    out += name;
    first = false;
  }
  out += ')';
  return out;
}

namespace {

namespace dom = simdjson::dom;

// An int64 given as a number or as a decimal string ("600"); nullopt otherwise.
std::optional<std::int64_t> as_int64(dom::element e) {
  if (e.is_int64()) return e.get_int64().value_unsafe();
  std::string_view s;
  std::int64_t v = 0;
  if (!e.get_string().get(s)) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && ec == std::errc{} && ptr == s.data() + s.size()) return v;
  }
  return std::nullopt;
}

bool is_number(dom::element_type t) {
  return t == dom::element_type::INT64 || t == dom::element_type::UINT64 ||
         t == dom::element_type::DOUBLE;
}

} // namespace

// NOLINTNEXTLINE(misc-no-recursion)
bool json_equal(dom::element a, dom::element b, json_match match, bool int64_strings) {
  if (int64_strings) {
    auto x = as_int64(a), y = as_int64(b);
    if (x && y) return *x == *y;
  }
  auto type = a.type();
  if (is_number(type) && is_number(b.type())) {
    if (type == dom::element_type::DOUBLE || b.type() == dom::element_type::DOUBLE)
      return a.get_double().value_unsafe() == b.get_double().value_unsafe();
    // simdjson makes every integer that fits an int64 one: an int64 and a uint64 differ
    // (as doubles, 2^63 - 1 and 2^63 would compare equal).
    if (type != b.type()) return false;
    return type == dom::element_type::INT64
               ? a.get_int64().value_unsafe() == b.get_int64().value_unsafe()
               : a.get_uint64().value_unsafe() == b.get_uint64().value_unsafe();
  }
  if (type != b.type()) return false;
  switch (type) {
  case dom::element_type::OBJECT: {
    dom::object x = a.get_object().value_unsafe(), y = b.get_object().value_unsafe();
    if (match == json_match::equal && x.size() != y.size()) return false;
    for (auto [key, value] : x) {
      dom::element other;
      if (y.at_key(key).get(other) || !json_equal(value, other, match, int64_strings)) return false;
    }
    return true;
  }
  case dom::element_type::ARRAY: {
    dom::array x = a.get_array().value_unsafe(), y = b.get_array().value_unsafe();
    if (x.size() != y.size()) return false;
    auto it = y.begin();
    for (dom::element e : x) {
      if (!json_equal(e, *it, match, int64_strings)) return false;
      ++it;
    }
    return true;
  }
  case dom::element_type::STRING:
    return a.get_string().value_unsafe() == b.get_string().value_unsafe();
  case dom::element_type::BOOL:
    return a.get_bool().value_unsafe() == b.get_bool().value_unsafe();
  case dom::element_type::NULL_VALUE:
    return true;
  default:
    return false;
  }
}

void key_lists::compare_with_earlier(list& l, std::string_view key) noexcept {
  if (!l.repeats && std::find(l.keys.begin(), l.keys.end(), key) != l.keys.end()) {
    l.repeats = true;
    l.repeated_key = key;
  }
}

std::optional<std::string_view> key_lists::repeated_in_sorted(list& l) {
  std::sort(l.keys.begin(), l.keys.end());
  if (auto dup = std::adjacent_find(l.keys.begin(), l.keys.end()); dup != l.keys.end()) return *dup;
  return std::nullopt;
}

job_key_check::result job_key_check::read_through(ondemand::value& value, ondemand::json_type type,
                                                  std::size_t depth, std::string_view& raw) {
  const char* start = value.raw_json_token().data();
  if (auto r = check_value(value, type, depth); r != result::ok) return r;
  // Where the value ended: the next token, as raw_json() measures it.
  const char* end = nullptr;
  if (value.current_location().get(end)) return result::unreadable;
  raw = std::string_view(start, static_cast<std::size_t>(end - start));
  return result::ok;
}

// The members of an object at `depth`, each object or array among them checked.
job_key_check::result job_key_check::check_members(ondemand::object& object, std::size_t depth) {
  keys_.open(depth);
  for (auto member : object) {
    ondemand::field field;
    std::string_view key;
    if (std::move(member).get(field) || field.unescaped_key().get(key)) return result::unreadable;
    keys_.add(depth, key);
    ondemand::value& value = field.value();
    ondemand::json_type type;
    if (value.type().get(type)) return result::unreadable;
    if (!is_container(type)) continue; // left unread
    auto r = check_value(value, type, depth + 1);
    if (r == result::repeated) step_out(key);
    if (r != result::ok) return r;
  }
  return repeats(depth) ? result::repeated : result::ok;
}

// An object or array at `depth`: the objects in it checked, scalars left unread.
job_key_check::result job_key_check::check_value(ondemand::value& value, ondemand::json_type type,
                                                 std::size_t depth) {
  if (depth > max_depth) return result::unreadable;
  if (type == ondemand::json_type::object) {
    ondemand::object object;
    if (value.get_object().get(object)) return result::unreadable;
    return check_members(object, depth);
  }
  ondemand::array array;
  if (value.get_array().get(array)) return result::unreadable;
  std::size_t index = 0;
  for (auto element : array) {
    ondemand::value v;
    ondemand::json_type t;
    if (element.get(v) || v.type().get(t)) return result::unreadable;
    if (is_container(t)) {
      auto r = check_value(v, t, depth + 1);
      if (r == result::repeated) step_out({}, index);
      if (r != result::ok) return r;
    }
    ++index;
  }
  return result::ok;
}

// Whole, not cut: the key and the path are server text, which the judgement scrubs of
// secrets before anything cuts it (a cut secret would no longer be found).
void job_key_check::describe(std::string& out) const {
  out += "the answer has a duplicate key ";
  append_json_string(out, repeated_);
  if (path_.empty()) {
    out += " (at the top level)";
    return;
  }
  out += " (in ";
  for (auto it = path_.rbegin(); it != path_.rend(); ++it) {
    if (it->key.data() == nullptr) {
      out += '[';
      append_uint(out, it->index);
      out += ']';
    } else {
      if (it != path_.rbegin()) out += '.';
      out += it->key;
    }
  }
  out += ')';
}

} // namespace jobpatch::detail
