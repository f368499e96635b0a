#include <jobpatch/text/json_writer.hpp>

#include <jobpatch/text/json_text.hpp>

#include <cmath>

namespace jobpatch {

void json_writer::member(std::string_view key) {
  separator();
  append_json_string(out_, key);
  out_ += ':';
}

json_writer& json_writer::begin_object() {
  separator();
  return open('{');
}

json_writer& json_writer::begin_object(std::string_view key) {
  member(key);
  return open('{');
}

json_writer& json_writer::open(char bracket) {
  out_ += bracket;
  has_members_.push_back(false);
  return *this;
}

json_writer& json_writer::end_object() {
  out_ += '}';
  if (!has_members_.empty()) has_members_.pop_back();
  return *this;
}

void json_writer::separator() {
  if (!has_members_.empty()) {
    if (has_members_.back()) out_ += ',';
    has_members_.back() = true;
  }
}

json_writer& json_writer::begin_array(std::string_view key) {
  member(key);
  return open('[');
}

json_writer& json_writer::begin_array() {
  separator();
  return open('[');
}

json_writer& json_writer::element(std::uint64_t v) {
  separator();
  append_uint(out_, v);
  return *this;
}

json_writer& json_writer::end_array() {
  out_ += ']';
  if (!has_members_.empty()) has_members_.pop_back();
  return *this;
}

json_writer& json_writer::element(double v, int decimals) {
  separator();
  append_fixed(out_, std::isfinite(v) ? v : 0.0, decimals);
  return *this;
}

json_writer& json_writer::null(std::string_view key) {
  member(key);
  out_ += "null";
  return *this;
}

json_writer& json_writer::number(std::string_view key, std::uint64_t v) {
  member(key);
  append_uint(out_, v);
  return *this;
}

json_writer& json_writer::integer(std::string_view key, std::int64_t v) {
  member(key);
  append_int(out_, v);
  return *this;
}

json_writer& json_writer::fixed(std::string_view key, double v, int decimals) {
  member(key);
  append_fixed(out_, std::isfinite(v) ? v : 0.0, decimals);
  return *this;
}

json_writer& json_writer::string(std::string_view key, std::string_view v) {
  member(key);
  append_json_string(out_, v);
  return *this;
}

json_writer& json_writer::boolean(std::string_view key, bool v) {
  member(key);
  out_ += v ? "true" : "false";
  return *this;
}

} // namespace jobpatch
