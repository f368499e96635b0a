#include <jobpatch/manifest/line_validator.hpp>

#include "text/json_checks.hpp"

#include <jobpatch/text/json_text.hpp>
#include <jobpatch/text/utf8.hpp>

#include <jobpatch/manifest/manifest_reader.hpp>

#include <array>

namespace jobpatch {

// manifest_reader leaves this many readable bytes after each line without including
// simdjson.h; it must be simdjson's padding, or every line would be copied.
static_assert(manifest_padding_bytes == simdjson::SIMDJSON_PADDING);

namespace ondemand = detail::ondemand;

namespace {

constexpr std::array top_level_keys = {std::string_view("jobId"), std::string_view("op"),
                                       std::string_view("body")};

// Control characters (C0, DEL, C1) or bytes that are not UTF-8 (simdjson has rejected
// those already; counted here all the same).
bool has_control_character(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t length = utf8_sequence_length(s, i);
    if (length == 0 || is_control_code_point(utf8_code_point(s, i, length))) return true;
    i += length;
  }
  return false;
}

// The exact source text of a value, consuming it.
simdjson::error_code raw_text(ondemand::value& value, std::string_view& out) {
  ondemand::json_type type;
  if (auto ec = value.type().get(type)) return ec;
  if (type == ondemand::json_type::object) {
    ondemand::object object;
    if (auto ec = value.get_object().get(object)) return ec;
    return object.raw_json().get(out);
  }
  if (type == ondemand::json_type::array) {
    ondemand::array array;
    if (auto ec = value.get_array().get(array)) return ec;
    return array.raw_json().get(out);
  }
  out = detail::trim_token(value.raw_json_token());
  return simdjson::SUCCESS;
}

} // namespace

// One line's validation, step by step: parse_object, then read_field for each key (
// read_job_id, read_op, read_body), check_complete, and check_body. Each step returns
// false after setting the error message.
struct line_validator::impl {
  ondemand::parser parser;
  std::string padded_copy;
  body_validator body;

  invalid_line* error = nullptr;
  operation* out = nullptr;
  detail::padded_input input{};
  ondemand::document doc;
  bool have_job_id = false, have_op = false, have_body = false;
  std::string_view body_text;

  bool fail(std::string message) {
    error->message = std::move(message);
    return false;
  }
  bool fail_json(simdjson::error_code ec) {
    return fail(detail::describe_json_error(ec, std::string_view(input.data, input.size)));
  }

  bool parse_object(std::string_view line, std::size_t readable, ondemand::object& object);
  bool read_field(ondemand::field& field);
  bool read_job_id(ondemand::value& value);
  bool read_op(ondemand::value& value);
  bool read_body(ondemand::value& value);
  bool check_complete();
  bool check_body();
};

bool line_validator::impl::parse_object(std::string_view line, std::size_t readable,
                                        ondemand::object& object) {
  have_job_id = have_op = have_body = false;
  body_text = {};
  input = detail::pad_for_simdjson(line, readable, padded_copy);
  if (auto ec = parser.iterate(input.data, input.size, input.capacity).get(doc))
    return fail_json(ec);
  ondemand::json_type type;
  if (auto ec = doc.type().get(type)) return fail_json(ec);
  if (type != ondemand::json_type::object) {
    std::string what = detail::describe_value(doc);
    if (what == detail::invalid_json) return fail_json(simdjson::TAPE_ERROR);
    return fail("line must be a JSON object, got " + what);
  }
  if (auto ec = doc.get_object().get(object)) return fail_json(ec);
  return true;
}

bool line_validator::impl::read_field(ondemand::field& field) {
  std::string_view key;
  if (auto ec = field.unescaped_key().get(key)) return fail_json(ec);
  ondemand::value value = field.value();
  bool* have = key == "jobId"  ? &have_job_id
               : key == "op"   ? &have_op
               : key == "body" ? &have_body
                               : nullptr;
  if (!have) return fail(detail::unknown_key_message("", key, top_level_keys));
  if (*have) return fail("duplicate key \"" + std::string(key) + "\"");
  *have = true;
  return have == &have_job_id ? read_job_id(value)
         : have == &have_op   ? read_op(value)
                              : read_body(value);
}

bool line_validator::impl::read_job_id(ondemand::value& value) {
  ondemand::json_type t;
  if (auto ec = value.type().get(t)) return fail_json(ec);
  if (t != ondemand::json_type::string)
    return fail("jobId must be a string, got " + detail::describe_value(value));
  std::string_view id;
  if (auto ec = value.get_string().get(id)) return fail_json(ec);
  if (id.empty()) return fail("jobId must not be empty");
  if (id.size() > max_job_id_bytes)
    return fail("jobId is " + std::to_string(id.size()) + " bytes, over the limit of " +
                std::to_string(max_job_id_bytes));
  if (has_control_character(id)) {
    std::string message = "jobId must not contain control characters: ";
    append_json_string(message, excerpt(id));
    return fail(std::move(message));
  }
  // "." and ".." stay literal after percent-encoding (unreserved), and servers and
  // proxies remove such dot segments: /jobs/../jobname would patch another path.
  if (id == "." || id == "..") {
    std::string message = "jobId ";
    append_json_string(message, id);
    message += " cannot be sent: it is a relative path segment";
    return fail(std::move(message));
  }
  out->job_id.assign(id);
  error->job_id.assign(id);
  return true;
}

bool line_validator::impl::read_op(ondemand::value& value) {
  ondemand::json_type t;
  if (auto ec = value.type().get(t)) return fail_json(ec);
  if (t != ondemand::json_type::string)
    return fail("op must be a string, got " + detail::describe_value(value));
  std::string_view name;
  if (auto ec = value.get_string().get(name)) return fail_json(ec);
  auto op = parse_op_kind(name);
  if (!op) return fail(unknown_op_message(name));
  out->op = *op;
  error->op = *op;
  return true;
}

bool line_validator::impl::read_body(ondemand::value& value) {
  if (auto ec = raw_text(value, body_text)) return fail_json(ec);
  return true;
}

bool line_validator::impl::check_complete() {
  if (!detail::at_document_end(doc)) return fail_json(simdjson::TRAILING_CONTENT);
  if (!have_job_id) return fail("missing key \"jobId\"");
  if (!have_op) return fail("missing key \"op\"");
  if (!have_body) return fail("missing key \"body\"");
  return true;
}

// The body is re-parsed on its own against its op's schema (op may come after body), in
// place when the line's own padding lies behind it.
bool line_validator::impl::check_body() {
  const char* end = input.data + input.capacity;
  std::size_t body_readable = 0;
  if (body_text.data() >= input.data && body_text.data() < end)
    body_readable = static_cast<std::size_t>(end - body_text.data());
  if (!body.validate(out->op, body_text, body_readable)) return fail(body.error());
  return true;
}

line_validator::line_validator() : impl_(std::make_unique<impl>()) {}
line_validator::~line_validator() = default;
line_validator::line_validator(line_validator&&) noexcept = default;
line_validator& line_validator::operator=(line_validator&&) noexcept = default;

bool line_validator::validate(std::string_view line, std::size_t readable,
                              std::uint64_t line_number, operation& out) {
  error_.line = line_number;
  error_.job_id.clear();
  error_.op.reset();
  error_.message.clear();
  impl& v = *impl_;
  v.error = &error_;
  v.out = &out;

  ondemand::object object;
  if (!v.parse_object(line, readable, object)) return false;
  for (auto field_result : object) {
    ondemand::field field;
    if (auto ec = std::move(field_result).get(field)) return v.fail_json(ec);
    if (!v.read_field(field)) return false;
  }
  if (!v.check_complete() || !v.check_body()) return false;

  out.line = line_number;
  out.body.assign(v.body_text);
  out.fingerprint = 0; // the resume key is line_source's (it needs the seq)
  return true;
}

std::string unknown_op_message(std::string_view name) {
  std::string message = "unknown op ";
  append_json_string(message, excerpt(name));
  constexpr std::array op_names = {std::string_view("datasource"), std::string_view("params"),
                                   std::string_view("jobname"), std::string_view("configs")};
  if (auto hint = detail::closest_name(name, op_names); !hint.empty())
    message += " (did you mean \"" + std::string(hint) + "\"?)";
  else
    message += " (expected datasource, params, jobname or configs)";
  return message;
}

} // namespace jobpatch
