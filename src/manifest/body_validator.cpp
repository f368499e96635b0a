#include <jobpatch/manifest/body_validator.hpp>

#include "text/json_checks.hpp"

#include <jobpatch/text/json_text.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <limits>
#include <span>

namespace jobpatch {

using detail::describe_value;
namespace ondemand = detail::ondemand;

namespace {

// The body schemas as data: one table per object, read by check_fields. An object's
// fields are checked in the order they come, each by its kind.
enum class field_kind {
  int64,            // a JSON number or a decimal string (proto3 JSON)
  boolean,          //
  string,           //
  non_empty_string, //
  opaque_object,    // any object, checked for well-formed JSON only
  source,           // source_schema below
};

struct field_rule {
  std::string_view key;
  field_kind kind;
  bool required = false;
};

struct object_schema {
  std::span<const field_rule> fields;
  std::string_view none_set; // the error when no field is set; empty: allowed
};

constexpr std::size_t max_schema_fields = 8; // key_set and the error path's key list

constexpr field_rule configs_fields[] = {{"taskTimeout", field_kind::int64},
                                         {"jobTimeout", field_kind::int64},
                                         {"isTestJob", field_kind::boolean}};
constexpr field_rule params_fields[] = {{"preset", field_kind::string},
                                        {"partitioner", field_kind::opaque_object},
                                        {"assembler", field_kind::opaque_object},
                                        {"app", field_kind::opaque_object}};
constexpr field_rule datasource_fields[] = {{"dataSource", field_kind::source},
                                            {"dataDestination", field_kind::source}};
constexpr field_rule source_fields[] = {
    {"dataSourceDescriptor", field_kind::non_empty_string, true},
    {"params", field_kind::opaque_object}};

constexpr object_schema configs_schema{
    configs_fields, "configs body sets no field (expected taskTimeout, jobTimeout or isTestJob)"};
constexpr object_schema params_schema{
    params_fields, "params body sets no field (expected preset, partitioner, assembler or app)"};
constexpr object_schema datasource_schema{
    datasource_fields, "datasource body sets no field (expected dataSource or dataDestination)"};
constexpr object_schema source_schema{source_fields, {}};

static_assert(std::size(configs_fields) <= max_schema_fields &&
              std::size(params_fields) <= max_schema_fields &&
              std::size(datasource_fields) <= max_schema_fields &&
              std::size(source_fields) <= max_schema_fields);

} // namespace

struct body_validator::impl {
  ondemand::parser parser;
  std::string padded_copy;
  std::string path;       // field path of the value being checked, e.g. "params.app.x"
  detail::key_lists keys; // of the opaque objects being walked, reused between bodies
  std::string* error = nullptr;
  std::string_view document; // the whole body being checked

  bool fail(std::string message) {
    *error = std::move(message);
    return false;
  }
  bool fail_here(std::string_view what) {
    std::string message = path;
    message += ' ';
    message += what;
    return fail(std::move(message));
  }
  bool fail_json(simdjson::error_code code) {
    std::string message = path;
    message += ": ";
    message += detail::describe_json_error(code, document);
    return fail(std::move(message));
  }
  bool wrong_type(std::string_view expected, ondemand::value& value) {
    std::string what = "must be ";
    what += expected;
    what += ", got ";
    what += describe_value(value);
    return fail_here(what);
  }

  // Appends ".key" to the path for the duration of a nested check.
  struct path_scope {
    std::string& path;
    std::size_t saved;
    path_scope(std::string& p, std::string_view key) : path(p), saved(p.size()) {
      path += '.';
      path.append(key.data(), key.size());
    }
    ~path_scope() { path.resize(saved); }
  };

  bool check_document(op_kind op, ondemand::document& doc);
  bool check_fields(ondemand::object& object, const object_schema& schema, std::size_t depth);
  bool check_field(field_kind kind, ondemand::value& value, std::size_t depth);
  bool check_int64(ondemand::value& value);
  bool check_string(ondemand::value& value, std::string_view* out = nullptr);
  bool check_object(ondemand::value& value, std::size_t depth);
  bool check_any(ondemand::value& value, std::size_t depth);
  bool check_members(ondemand::value& value, std::size_t depth);
  bool check_elements(ondemand::value& value, std::size_t depth);
  bool begin_object(ondemand::document& doc, ondemand::object& out);
};

namespace {

// Parses a proto3-JSON int64 given as a decimal string ("600", "-5").
bool parse_int64_string(std::string_view s, std::int64_t& out) {
  if (s.empty() || s.front() == '+') return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

bool is_out_of_range_int_string(std::string_view s) {
  std::int64_t ignored;
  if (s.empty() || s.front() == '+') return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), ignored);
  return ec == std::errc::result_out_of_range && ptr == s.data() + s.size();
}

// Bit per known key, to reject duplicates of schema keys without allocating.
struct key_set {
  unsigned seen = 0;
  bool insert(unsigned bit) {
    bool fresh = (seen & (1u << bit)) == 0;
    seen |= 1u << bit;
    return fresh;
  }
};

} // namespace

bool body_validator::impl::check_int64(ondemand::value& value) {
  ondemand::json_type type;
  if (auto ec = value.type().get(type)) return fail_json(ec);
  if (type == ondemand::json_type::number) {
    std::int64_t v;
    auto ec = value.get_int64().get(v);
    if (!ec) return true;
    if (ec == simdjson::NUMBER_OUT_OF_RANGE) return fail_here("is out of the int64 range");
    if (ec == simdjson::INCORRECT_TYPE) {
      // simdjson calls integers beyond uint64 "incorrect type"; name them for what they are.
      std::string_view token = value.raw_json_token();
      if (token.find_first_of(".eE") == std::string_view::npos)
        return fail_here("is out of the int64 range");
      return wrong_type("an integer", value);
    }
    return fail_json(ec);
  }
  if (type == ondemand::json_type::string) {
    std::string_view s;
    if (auto ec = value.get_string().get(s)) return fail_json(ec);
    std::int64_t v;
    if (parse_int64_string(s, v)) return true;
    if (is_out_of_range_int_string(s)) return fail_here("is out of the int64 range");
    std::string what = "must be an integer, got string ";
    append_json_string(what, excerpt(s));
    return fail_here(what);
  }
  return wrong_type("an integer", value);
}

bool body_validator::impl::check_string(ondemand::value& value, std::string_view* out) {
  ondemand::json_type type;
  if (auto ec = value.type().get(type)) return fail_json(ec);
  if (type != ondemand::json_type::string) return wrong_type("a string", value);
  std::string_view s;
  if (auto ec = value.get_string().get(s)) return fail_json(ec);
  if (out) *out = s;
  return true;
}

bool body_validator::impl::check_object(ondemand::value& value, std::size_t depth) {
  ondemand::json_type type;
  if (auto ec = value.type().get(type)) return fail_json(ec);
  if (type != ondemand::json_type::object) return wrong_type("an object", value);
  return check_any(value, depth);
}

// An opaque object's members, each walked, with no key twice.
bool body_validator::impl::check_members(ondemand::value& value, std::size_t depth) {
  ondemand::object object;
  if (auto ec = value.get_object().get(object)) return fail_json(ec);
  keys.open(depth);
  for (auto field_result : object) {
    ondemand::field field;
    if (auto ec = std::move(field_result).get(field)) return fail_json(ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return fail_json(ec);
    keys.add(depth, key);
    path_scope scope(path, key);
    ondemand::value child = field.value();
    if (!check_any(child, depth + 1)) return false;
  }
  if (auto dup = keys.repeated(depth)) {
    std::string what = "has a duplicate key ";
    append_json_string(what, excerpt(*dup));
    return fail_here(what);
  }
  return true;
}

// An opaque array's elements, each walked, with its index in the path ("app.x[2]").
bool body_validator::impl::check_elements(ondemand::value& value, std::size_t depth) {
  ondemand::array array;
  if (auto ec = value.get_array().get(array)) return fail_json(ec);
  std::size_t index = 0;
  for (auto element_result : array) {
    ondemand::value element;
    if (auto ec = element_result.get(element)) return fail_json(ec);
    std::size_t saved = path.size();
    path += '[';
    append_uint(path, index++);
    path += ']';
    if (!check_any(element, depth + 1)) return false;
    path.resize(saved);
  }
  return true;
}

// Walks an opaque value completely: On Demand only validates what is read, and the body
// goes to the server as written, so every string, number and literal is read once.
bool body_validator::impl::check_any(ondemand::value& value, std::size_t depth) {
  if (depth > max_nesting_depth) return fail_here("is nested deeper than the limit of 64 levels");
  ondemand::json_type type;
  if (auto ec = value.type().get(type)) return fail_json(ec);
  switch (type) {
  case ondemand::json_type::object:
    return check_members(value, depth);
  case ondemand::json_type::array:
    return check_elements(value, depth);
  case ondemand::json_type::string: {
    std::string_view s;
    if (auto ec = value.get_string().get(s)) return fail_json(ec);
    return true;
  }
  case ondemand::json_type::number: {
    double d;
    if (auto ec = value.get_double().get(d)) return fail_json(ec);
    return true;
  }
  case ondemand::json_type::boolean: {
    bool b;
    if (auto ec = value.get_bool().get(b)) return fail_json(ec);
    return true;
  }
  case ondemand::json_type::null: {
    bool is_null = false;
    if (auto ec = value.is_null().get(is_null)) return fail_json(ec);
    if (!is_null) return fail_json(simdjson::N_ATOM_ERROR);
    return true;
  }
  }
  return fail_json(simdjson::TAPE_ERROR);
}

bool body_validator::impl::check_fields(ondemand::object& object, const object_schema& schema,
                                        std::size_t depth) {
  key_set seen;
  for (auto field_result : object) {
    ondemand::field field;
    if (auto ec = std::move(field_result).get(field)) return fail_json(ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return fail_json(ec);
    auto rule = std::find_if(schema.fields.begin(), schema.fields.end(),
                             [&](const field_rule& r) { return r.key == key; });
    if (rule == schema.fields.end()) {
      std::array<std::string_view, max_schema_fields> expected;
      std::transform(schema.fields.begin(), schema.fields.end(), expected.begin(),
                     [](const field_rule& r) { return r.key; });
      return fail(
          detail::unknown_key_message(path, key, std::span(expected.data(), schema.fields.size())));
    }
    auto bit = static_cast<unsigned>(rule - schema.fields.begin());
    if (!seen.insert(bit)) return fail(path + ": duplicate key \"" + std::string(key) + "\"");
    path_scope scope(path, key);
    ondemand::value value = field.value();
    if (!check_field(rule->kind, value, depth + 1)) return false;
  }
  for (std::size_t i = 0; i < schema.fields.size(); ++i)
    if (schema.fields[i].required && (seen.seen & (1u << i)) == 0)
      return fail(path + "." + std::string(schema.fields[i].key) + " is required");
  if (seen.seen == 0 && !schema.none_set.empty()) return fail(std::string(schema.none_set));
  return true;
}

bool body_validator::impl::check_field(field_kind kind, ondemand::value& value, std::size_t depth) {
  switch (kind) {
  case field_kind::int64:
    return check_int64(value);
  case field_kind::boolean: {
    ondemand::json_type type;
    if (auto ec = value.type().get(type)) return fail_json(ec);
    if (type != ondemand::json_type::boolean) return wrong_type("a boolean", value);
    bool b;
    if (auto ec = value.get_bool().get(b)) return fail_json(ec);
    return true;
  }
  case field_kind::string:
    return check_string(value);
  case field_kind::non_empty_string: {
    std::string_view s;
    if (!check_string(value, &s)) return false;
    if (s.empty()) return fail_here("must not be empty");
    return true;
  }
  case field_kind::opaque_object:
    return check_object(value, depth);
  case field_kind::source: {
    ondemand::json_type type;
    if (auto ec = value.type().get(type)) return fail_json(ec);
    if (type != ondemand::json_type::object) return wrong_type("an object", value);
    ondemand::object object;
    if (auto ec = value.get_object().get(object)) return fail_json(ec);
    return check_fields(object, source_schema, depth);
  }
  }
  return fail_json(simdjson::TAPE_ERROR);
}

bool body_validator::impl::begin_object(ondemand::document& doc, ondemand::object& out) {
  ondemand::json_type type;
  if (auto ec = doc.type().get(type)) return fail_json(ec);
  if (type != ondemand::json_type::object)
    return fail(path + " body must be a JSON object, got " + describe_value(doc));
  if (auto ec = doc.get_object().get(out)) return fail_json(ec);
  return true;
}

bool body_validator::impl::check_document(op_kind op, ondemand::document& doc) {
  path.assign(to_string(op));
  if (op == op_kind::jobname) {
    ondemand::json_type type;
    if (auto ec = doc.type().get(type)) return fail_json(ec);
    if (type != ondemand::json_type::string)
      return fail("jobname body must be a JSON string, got " + describe_value(doc));
    std::string_view name;
    if (auto ec = doc.get_string().get(name)) return fail_json(ec);
  } else {
    ondemand::object body;
    if (!begin_object(doc, body)) return false;
    const object_schema& schema = op == op_kind::configs  ? configs_schema
                                  : op == op_kind::params ? params_schema
                                                          : datasource_schema;
    if (!check_fields(body, schema, 0)) return false;
  }
  if (!detail::at_document_end(doc)) return fail_json(simdjson::TRAILING_CONTENT);
  return true;
}

body_validator::body_validator() : impl_(std::make_unique<impl>()) {}
body_validator::~body_validator() = default;
body_validator::body_validator(body_validator&&) noexcept = default;
body_validator& body_validator::operator=(body_validator&&) noexcept = default;

bool body_validator::validate(op_kind op, std::string_view body, std::size_t readable) {
  error_.clear();
  impl_->error = &error_;
  auto input = detail::pad_for_simdjson(body, readable, impl_->padded_copy);
  impl_->document = body;
  ondemand::document doc;
  auto ec = impl_->parser.iterate(input.data, input.size, input.capacity).get(doc);
  if (ec) {
    impl_->path.assign(to_string(op));
    return impl_->fail_json(ec);
  }
  return impl_->check_document(op, doc);
}

} // namespace jobpatch
