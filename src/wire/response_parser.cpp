#include <jobpatch/wire/response_parser.hpp>

#include "text/json_checks.hpp"

#include <jobpatch/text/json_text.hpp>
#include <jobpatch/text/utf8.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>

namespace jobpatch {

namespace ondemand = detail::ondemand;
namespace dom = simdjson::dom;

struct response_parser::impl {
  ondemand::parser parser;
  std::string body_copy;
  dom::parser sent_parser, got_parser;
  std::string sent_copy;
  std::string error_message; // the message error_text() names
  // The last sent body parsed by sent_parser: its text (sent_copy, the padded copy) and
  // the outcome. In bulk runs consecutive lines mostly carry one body, so it is parsed once
  // and reused while the next body is byte-identical; sent_root stays valid as long as
  // sent_parser parses nothing else, which only verify() makes it do. sent_generation
  // counts the parses: it names the sent DOM in read_back.
  bool sent_cached = false, sent_valid = false;
  dom::element sent_root;
  std::uint64_t sent_generation = 0;

  // The answer's fields that are compared with what was sent, one slot each: the sent part
  // is fixed by the field (the whole body, or its dataSource or dataDestination) and so is
  // how numbers compare (int64 strings for config only).
  enum class field : std::uint8_t { name, config, params, data_source, data_destination };
  // The last comparison of one field: servers answer a repeated body with the same text,
  // so a comparison of the same sent DOM with byte-identical text is not made again.
  struct read_back {
    std::uint64_t sent_generation = 0; // 0: none made
    std::string got;                   // the field's text, padded for simdjson
    bool result = false;
  };
  std::array<read_back, 5> read_backs;

  // Raw JSON of the job document's fields that a PATCH may change.
  struct job_fields {
    std::string_view config, name, params, data_source, data_destination;
  } fields;
  detail::job_key_check keys;

  bool parse_job(update_view op, ondemand::document& doc, patch_verdict& verdict);
  bool reads_back_as(dom::element sent, std::string_view got, field which);
  void verify(update_view op, patch_verdict& verdict);
};

// Parses the received text with the DOM API (it is small) and compares, unless this field
// was last compared with the same sent DOM and the same text. `sent` is the part of the
// sent body that `which` is compared with.
bool response_parser::impl::reads_back_as(dom::element sent, std::string_view got, field which) {
  if (got.empty()) return false;
  read_back& last = read_backs[static_cast<std::size_t>(which)];
  if (last.sent_generation == sent_generation && got == std::string_view(last.got))
    return last.result;
  last.sent_generation = 0; // until the comparison below has completed
  auto input = detail::pad_for_simdjson(got, 0, last.got);
  dom::element received;
  // Objects may carry extra keys in the answer (servers add defaults).
  last.result = !got_parser.parse(input.data, input.size, false).get(received) &&
                detail::json_equal(sent, received, detail::json_match::sent_in_got,
                                   /*int64_strings=*/which == field::config);
  last.sent_generation = sent_generation;
  return last.result;
}

void response_parser::impl::verify(update_view op, patch_verdict& verdict) {
  auto mismatch = [&](std::string_view field) {
    verdict.verified = false;
    verdict.error = "the answer does not show the sent ";
    verdict.error += field;
  };
  verdict.verified = true;
  if (!sent_cached || op.body != std::string_view(sent_copy)) {
    sent_cached = false; // until the parse below has completed
    auto input = detail::pad_for_simdjson(op.body, 0, sent_copy);
    sent_valid = !sent_parser.parse(input.data, input.size, false).get(sent_root);
    ++sent_generation;
    sent_cached = true;
  }
  if (!sent_valid) {
    mismatch("body");
    return;
  }
  dom::element sent = sent_root;
  switch (op.op) {
  case op_kind::jobname:
    if (!reads_back_as(sent, fields.name, field::name)) mismatch("name");
    return;
  case op_kind::configs:
    if (!reads_back_as(sent, fields.config, field::config)) mismatch("config");
    return;
  case op_kind::params:
    if (!reads_back_as(sent, fields.params, field::params)) mismatch("params");
    return;
  case op_kind::datasource: {
    // The body holds dataSource and/or dataDestination; each sent one must read back.
    dom::element part;
    if (!sent["dataSource"].get(part) &&
        !reads_back_as(part, fields.data_source, field::data_source))
      mismatch("dataSource");
    else if (!sent["dataDestination"].get(part) &&
             !reads_back_as(part, fields.data_destination, field::data_destination))
      mismatch("dataDestination");
    return;
  }
  }
}

// One pass over the job document's fields in document order (On Demand reads forward
// only); split by field it would walk the object once per field.
bool response_parser::impl::parse_job(update_view op, ondemand::document& doc,
                                      patch_verdict& verdict) {
  fields = {};
  std::string_view id;
  auto walked =
      detail::walk_job_fields(doc, keys, [&](std::string_view name, detail::job_value value) {
        auto raw_object = [&](std::string_view& out) { out = value.is_object() ? value.raw : ""; };
        if (name == "id") {
          if (!value.string(id)) id = {};
        } else if (name == "state") {
          std::string_view state;
          if (value.string(state)) verdict.state = server_text(state);
        } else if (name == "name" && op.op == op_kind::jobname) {
          fields.name = detail::trim_token(value.value.raw_json_token());
          std::string_view ignored;
          if (!value.string(ignored)) fields.name = {};
        } else if (name == "config" && op.op == op_kind::configs)
          raw_object(fields.config);
        else if (name == "params" && op.op == op_kind::params)
          raw_object(fields.params);
        else if (name == "dataSource" && op.op == op_kind::datasource)
          raw_object(fields.data_source);
        else if (name == "dataDestination" && op.op == op_kind::datasource)
          raw_object(fields.data_destination);
        return true;
      });
  if (walked == detail::job_walk::not_object) {
    verdict.error = "the 200 answer is not a JSON object";
    return false;
  }
  if (walked == detail::job_walk::repeated_key) {
    // Which of two ids (or values) is the one the server meant? Not a document to trust.
    keys.describe(verdict.error);
    return false;
  }
  if (walked != detail::job_walk::done) {
    verdict.error = "the 200 answer has no readable \"job\" object";
    return false;
  }
  verdict.job_matches = id == op.job_id;
  if (!verdict.job_matches) {
    verdict.answered_id = server_text(id, 80);
    return true;
  }
  verify(op, verdict);
  return true;
}

response_parser::response_parser() : impl_(std::make_unique<impl>()) {}
response_parser::~response_parser() = default;
response_parser::response_parser(response_parser&&) noexcept = default;
response_parser& response_parser::operator=(response_parser&&) noexcept = default;

bool response_parser::check_patch(update_view op, std::string_view body, std::size_t readable,
                                  patch_verdict& verdict) {
  verdict.job_matches = verdict.verified = false;
  verdict.state = verdict.answered_id = {};
  verdict.error.clear();
  auto input = detail::pad_for_simdjson(body, readable, impl_->body_copy);
  ondemand::document doc;
  if (auto ec = impl_->parser.iterate(input.data, input.size, input.capacity).get(doc)) {
    verdict.error = "the 200 answer is not JSON (";
    verdict.error += detail::describe_json_error(ec);
    verdict.error += ')';
    return false;
  }
  return impl_->parse_job(op, doc, verdict);
}

// The error shapes servers use (message, error.message, error.description, plain text)
// in one forward pass of On Demand, which cannot go back; a split per shape would parse
// the body again for each.
// NOLINTNEXTLINE(readability-function-cognitive-complexity)
server_text response_parser::error_text(std::string_view body, std::size_t readable) {
  auto input = detail::pad_for_simdjson(body, readable, impl_->body_copy);
  ondemand::document doc;
  ondemand::object root;
  std::string message, nested_message, description;
  if (!impl_->parser.iterate(input.data, input.size, input.capacity).get(doc) &&
      !doc.get_object().get(root)) {
    for (auto root_field : root) {
      ondemand::field field;
      std::string_view key, s;
      if (std::move(root_field).get(field) || field.unescaped_key().get(key)) break;
      if (key == "message" || key == "error_description") {
        if (!field.value().get_string().get(s)) message.assign(s);
      } else if (key == "error") {
        ondemand::value value = field.value();
        ondemand::object error;
        if (!value.get_string().get(s)) {
          nested_message.assign(s);
        } else if (!value.get_object().get(error)) {
          for (auto error_field : error) {
            ondemand::field f;
            std::string_view name;
            if (std::move(error_field).get(f) || f.unescaped_key().get(name)) break;
            if (name == "message" && !f.value().get_string().get(s))
              nested_message.assign(s);
            else if (name == "description" && !f.value().get_string().get(s))
              description.assign(s);
          }
        }
      }
    }
    std::string& out = impl_->error_message;
    out = !nested_message.empty() ? nested_message : message;
    if (!description.empty() && description != out) {
      if (!out.empty()) out += ": ";
      out += description;
    }
    if (!out.empty()) return server_text(out, 500);
  }
  // Not JSON, or JSON without a message: the text itself.
  return server_text(body, 200);
}

namespace {
// An expiresIn value as whole seconds: an integer, a decimal string or a real number; 0
// when unusable. Absurd values come back large and are clamped by token_lifetime().
std::int64_t lifetime_seconds(ondemand::value& value) {
  std::int64_t seconds = 0;
  std::string_view s;
  double real = 0;
  if (!value.get_int64().get(seconds)) return seconds;
  if (!value.get_string().get(s)) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
    // Too large for int64 ("99999999999999999999"): as long as possible, clamped later.
    if (ec == std::errc::result_out_of_range && ptr == s.data() + s.size() && s[0] != '-')
      return std::numeric_limits<std::int64_t>::max();
    return ec != std::errc{} || ptr != s.data() + s.size() ? 0 : seconds;
  }
  if (!value.get_double().get(real)) {
    // 1e10, 3600.5, a number beyond uint64: clamped later; NaN cannot occur in JSON.
    return real >= 9.2e18 ? std::numeric_limits<std::int64_t>::max()
           : real > 0     ? static_cast<std::int64_t>(real)
                          : 0;
  }
  return 0;
}

// A token goes into a header as is: visible ASCII only.
bool header_safe(std::string_view token) noexcept {
  for (char c : token)
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7F) return false;
  return true;
}
} // namespace

std::optional<response_parser::access_token>
response_parser::parse_access_token(std::string_view body, std::size_t readable,
                                    std::string& error) {
  auto input = detail::pad_for_simdjson(body, readable, impl_->body_copy);
  ondemand::document doc;
  ondemand::object root;
  if (impl_->parser.iterate(input.data, input.size, input.capacity).get(doc) ||
      doc.get_object().get(root)) {
    error = "the token answer is not a JSON object";
    return std::nullopt;
  }
  access_token out;
  for (auto root_field : root) {
    ondemand::field field;
    std::string_view key;
    if (std::move(root_field).get(field) || field.unescaped_key().get(key)) {
      error = "the token answer is not valid JSON";
      return std::nullopt;
    }
    ondemand::value value = field.value();
    if (key == "token" || key == "accessToken" || key == "access_token") {
      std::string_view token;
      out.token.clear();
      out.refused_bytes = 0;
      if (value.get_string().get(token)) continue;
      if (token.size() > max_token_bytes)
        out.refused_bytes = token.size(); // never copied
      else
        out.token.assign(token);
    } else if (key == "expiresIn" || key == "expires_in") {
      if (std::int64_t seconds = lifetime_seconds(value); seconds > 0)
        out.expires_in = std::chrono::seconds(seconds);
    }
  }
  if (out.refused_bytes != 0) return out;
  if (out.token.empty()) {
    error = "the token answer has no \"token\"";
    return std::nullopt;
  }
  if (!header_safe(out.token)) {
    error = "the token answer holds a token with characters not allowed in a header";
    return std::nullopt;
  }
  return out;
}

std::chrono::seconds token_lifetime(std::optional<std::chrono::seconds> expires_in) noexcept {
  if (!expires_in || expires_in->count() <= 0) return default_token_lifetime;
  return std::clamp(*expires_in, min_token_lifetime, max_token_lifetime);
}

} // namespace jobpatch
