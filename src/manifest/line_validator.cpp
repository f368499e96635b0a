#include <jobpatch/manifest/line_validator.hpp>

#include "manifest/json_checks.hpp"

#include <jobpatch/results/json_text.hpp>

#include <array>

namespace jobpatch {

namespace ondemand = detail::ondemand;

struct line_validator::impl {
  ondemand::parser parser;
  std::string padded_copy;
  body_validator body;
};

namespace {

constexpr std::array top_level_keys = {std::string_view("jobId"), std::string_view("op"),
                                       std::string_view("body")};

// Control characters: C0, DEL, and C1 (U+0080..U+009F, encoded C2 80..C2 9F).
bool has_control_character(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0) return true;
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
  auto fail = [&](std::string message) {
    error_.message = std::move(message);
    return false;
  };

  const char* data = line.data();
  std::size_t capacity = readable;
  if (readable < line.size() + simdjson::SIMDJSON_PADDING) {
    impl_->padded_copy.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    impl_->padded_copy.assign(line);
    data = impl_->padded_copy.data();
    capacity = impl_->padded_copy.capacity();
  }

  ondemand::document doc;
  if (auto ec = impl_->parser.iterate(data, line.size(), capacity).get(doc))
    return fail(std::string(detail::describe_json_error(ec)));
  ondemand::json_type type;
  if (auto ec = doc.type().get(type)) return fail(std::string(detail::describe_json_error(ec)));
  if (type != ondemand::json_type::object) {
    std::string what = detail::describe_value(doc);
    if (what == detail::invalid_json)
      return fail(std::string(detail::describe_json_error(simdjson::TAPE_ERROR)));
    return fail("line must be a JSON object, got " + what);
  }
  ondemand::object object;
  if (auto ec = doc.get_object().get(object))
    return fail(std::string(detail::describe_json_error(ec)));

  bool have_job_id = false, have_op = false, have_body = false;
  std::string_view body_text;
  for (auto field_result : object) {
    ondemand::field field;
    if (auto ec = std::move(field_result).get(field))
      return fail(std::string(detail::describe_json_error(ec)));
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key))
      return fail(std::string(detail::describe_json_error(ec)));
    ondemand::value value = field.value();
    auto duplicate = [&] { return fail("duplicate key \"" + std::string(key) + "\""); };
    if (key == "jobId") {
      if (have_job_id) return duplicate();
      have_job_id = true;
      ondemand::json_type t;
      if (auto ec = value.type().get(t)) return fail(std::string(detail::describe_json_error(ec)));
      if (t != ondemand::json_type::string)
        return fail("jobId must be a string, got " + detail::describe_value(value));
      std::string_view id;
      if (auto ec = value.get_string().get(id))
        return fail(std::string(detail::describe_json_error(ec)));
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
      out.job_id.assign(id);
      error_.job_id.assign(id);
    } else if (key == "op") {
      if (have_op) return duplicate();
      have_op = true;
      ondemand::json_type t;
      if (auto ec = value.type().get(t)) return fail(std::string(detail::describe_json_error(ec)));
      if (t != ondemand::json_type::string)
        return fail("op must be a string, got " + detail::describe_value(value));
      std::string_view name;
      if (auto ec = value.get_string().get(name))
        return fail(std::string(detail::describe_json_error(ec)));
      auto op = parse_op_kind(name);
      if (!op) {
        std::string message = "unknown op ";
        append_json_string(message, excerpt(name));
        constexpr std::array op_names = {std::string_view("datasource"), std::string_view("params"),
                                         std::string_view("jobname"), std::string_view("configs")};
        if (auto hint = detail::closest_name(name, op_names); !hint.empty())
          message += " (did you mean \"" + std::string(hint) + "\"?)";
        else
          message += " (expected datasource, params, jobname or configs)";
        return fail(std::move(message));
      }
      out.op = *op;
      error_.op = *op;
    } else if (key == "body") {
      if (have_body) return duplicate();
      have_body = true;
      if (auto ec = raw_text(value, body_text))
        return fail(std::string(detail::describe_json_error(ec)));
    } else {
      return fail(detail::unknown_key_message("", key, top_level_keys));
    }
  }
  if (!detail::at_document_end(doc))
    return fail(std::string(detail::describe_json_error(simdjson::TRAILING_CONTENT)));
  if (!have_job_id) return fail("missing key \"jobId\"");
  if (!have_op) return fail("missing key \"op\"");
  if (!have_body) return fail("missing key \"body\"");

  // The body is re-parsed on its own against its op's schema (op may come after body).
  std::size_t body_readable = static_cast<std::size_t>(data + capacity - body_text.data());
  if (body_text.data() < data || body_text.data() >= data + capacity) body_readable = 0;
  if (!impl_->body.validate(out.op, body_text, body_readable)) return fail(impl_->body.error());

  out.line = line_number;
  out.body.assign(body_text);
  out.fingerprint = fingerprint_of(line_number, out.job_id, out.op, out.body);
  return true;
}

} // namespace jobpatch
