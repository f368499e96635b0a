#include <jobpatch/manifest/body_validator.hpp>

#include "manifest/json_checks.hpp"

#include <jobpatch/results/json_text.hpp>

#include <array>

#include <algorithm>
#include <charconv>
#include <limits>
#include <vector>

namespace jobpatch {

using detail::describe_value;
namespace ondemand = detail::ondemand;

struct body_validator::impl {
  ondemand::parser parser;
  std::string padded_copy;
  std::string path; // field path of the value being checked, e.g. "params.app.x"
  std::vector<std::vector<std::string_view>> keys_by_depth; // reused for duplicate checks
  std::string* error = nullptr;

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
    message += detail::describe_json_error(code);
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
  bool check_configs(ondemand::object& body);
  bool check_params(ondemand::object& body);
  bool check_datasource(ondemand::object& body);
  bool check_source(ondemand::value& value);
  bool check_int64(ondemand::value& value);
  bool check_string(ondemand::value& value, std::string_view* out = nullptr);
  bool check_object(ondemand::value& value, std::size_t depth);
  bool check_any(ondemand::value& value, std::size_t depth);
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

// Walks an opaque value completely: On Demand only validates what is read, and the body
// goes to the server as written, so every string, number and literal is read once.
bool body_validator::impl::check_any(ondemand::value& value, std::size_t depth) {
  if (depth > max_nesting_depth) return fail_here("is nested deeper than the limit of 64 levels");
  ondemand::json_type type;
  if (auto ec = value.type().get(type)) return fail_json(ec);
  switch (type) {
  case ondemand::json_type::object: {
    ondemand::object object;
    if (auto ec = value.get_object().get(object)) return fail_json(ec);
    if (keys_by_depth.size() <= depth) keys_by_depth.resize(depth + 1);
    keys_by_depth[depth].clear();
    for (auto field_result : object) {
      ondemand::field field;
      if (auto ec = std::move(field_result).get(field)) return fail_json(ec);
      std::string_view key;
      if (auto ec = field.unescaped_key().get(key)) return fail_json(ec);
      keys_by_depth[depth].push_back(key);
      path_scope scope(path, key);
      ondemand::value child = field.value();
      if (!check_any(child, depth + 1)) return false;
    }
    auto& keys = keys_by_depth[depth];
    std::sort(keys.begin(), keys.end());
    if (auto dup = std::adjacent_find(keys.begin(), keys.end()); dup != keys.end()) {
      std::string what = "has a duplicate key ";
      append_json_string(what, excerpt(*dup));
      return fail_here(what);
    }
    return true;
  }
  case ondemand::json_type::array: {
    ondemand::array array;
    if (auto ec = value.get_array().get(array)) return fail_json(ec);
    std::size_t index = 0;
    for (auto element_result : array) {
      ondemand::value element;
      if (auto ec = std::move(element_result).get(element)) return fail_json(ec);
      std::size_t saved = path.size();
      path += '[';
      append_uint(path, index++);
      path += ']';
      bool ok = check_any(element, depth + 1);
      if (!ok) return false;
      path.resize(saved);
    }
    return true;
  }
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

bool body_validator::impl::check_configs(ondemand::object& body) {
  static constexpr std::array expected = {std::string_view("taskTimeout"),
                                          std::string_view("jobTimeout"),
                                          std::string_view("isTestJob")};
  key_set seen;
  for (auto field_result : body) {
    ondemand::field field;
    if (auto ec = std::move(field_result).get(field)) return fail_json(ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return fail_json(ec);
    unsigned bit;
    if (key == "taskTimeout")
      bit = 0;
    else if (key == "jobTimeout")
      bit = 1;
    else if (key == "isTestJob")
      bit = 2;
    else
      return fail(detail::unknown_key_message("configs", key, expected));
    if (!seen.insert(bit)) return fail("configs: duplicate key \"" + std::string(key) + "\"");
    path_scope scope(path, key);
    ondemand::value value = field.value();
    if (bit == 2) {
      ondemand::json_type type;
      if (auto ec = value.type().get(type)) return fail_json(ec);
      bool b;
      if (type != ondemand::json_type::boolean) return wrong_type("a boolean", value);
      if (auto ec = value.get_bool().get(b)) return fail_json(ec);
    } else if (!check_int64(value)) {
      return false;
    }
  }
  if (seen.seen == 0)
    return fail("configs body sets no field (expected taskTimeout, jobTimeout or isTestJob)");
  return true;
}

bool body_validator::impl::check_params(ondemand::object& body) {
  static constexpr std::array expected = {std::string_view("preset"),
                                          std::string_view("partitioner"),
                                          std::string_view("assembler"), std::string_view("app")};
  key_set seen;
  for (auto field_result : body) {
    ondemand::field field;
    if (auto ec = std::move(field_result).get(field)) return fail_json(ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return fail_json(ec);
    unsigned bit;
    if (key == "preset")
      bit = 0;
    else if (key == "partitioner")
      bit = 1;
    else if (key == "assembler")
      bit = 2;
    else if (key == "app")
      bit = 3;
    else
      return fail(detail::unknown_key_message("params", key, expected));
    if (!seen.insert(bit)) return fail("params: duplicate key \"" + std::string(key) + "\"");
    path_scope scope(path, key);
    ondemand::value value = field.value();
    if (!(bit == 0 ? check_string(value) : check_object(value, 1))) return false;
  }
  if (seen.seen == 0)
    return fail("params body sets no field (expected preset, partitioner, assembler or app)");
  return true;
}

bool body_validator::impl::check_source(ondemand::value& value) {
  static constexpr std::array expected = {std::string_view("dataSourceDescriptor"),
                                          std::string_view("params")};
  ondemand::json_type type;
  if (auto ec = value.type().get(type)) return fail_json(ec);
  if (type != ondemand::json_type::object) return wrong_type("an object", value);
  ondemand::object object;
  if (auto ec = value.get_object().get(object)) return fail_json(ec);
  key_set seen;
  for (auto field_result : object) {
    ondemand::field field;
    if (auto ec = std::move(field_result).get(field)) return fail_json(ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return fail_json(ec);
    unsigned bit;
    if (key == "dataSourceDescriptor")
      bit = 0;
    else if (key == "params")
      bit = 1;
    else
      return fail(detail::unknown_key_message(path, key, expected));
    if (!seen.insert(bit)) return fail(path + ": duplicate key \"" + std::string(key) + "\"");
    path_scope scope(path, key);
    ondemand::value child = field.value();
    if (bit == 1) {
      if (!check_object(child, 2)) return false;
      continue;
    }
    std::string_view descriptor;
    if (!check_string(child, &descriptor)) return false;
    if (descriptor.empty()) return fail_here("must not be empty");
  }
  if ((seen.seen & 1u) == 0) return fail(path + ".dataSourceDescriptor is required");
  return true;
}

bool body_validator::impl::check_datasource(ondemand::object& body) {
  static constexpr std::array expected = {std::string_view("dataSource"),
                                          std::string_view("dataDestination")};
  key_set seen;
  for (auto field_result : body) {
    ondemand::field field;
    if (auto ec = std::move(field_result).get(field)) return fail_json(ec);
    std::string_view key;
    if (auto ec = field.unescaped_key().get(key)) return fail_json(ec);
    unsigned bit;
    if (key == "dataSource")
      bit = 0;
    else if (key == "dataDestination")
      bit = 1;
    else
      return fail(detail::unknown_key_message("datasource", key, expected));
    if (!seen.insert(bit)) return fail("datasource: duplicate key \"" + std::string(key) + "\"");
    path_scope scope(path, key);
    ondemand::value value = field.value();
    if (!check_source(value)) return false;
  }
  if (seen.seen == 0)
    return fail("datasource body sets no field (expected dataSource or dataDestination)");
  return true;
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
    bool ok = op == op_kind::configs  ? check_configs(body)
              : op == op_kind::params ? check_params(body)
                                      : check_datasource(body);
    if (!ok) return false;
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
  const char* data = body.data();
  std::size_t capacity = readable;
  if (readable < body.size() + simdjson::SIMDJSON_PADDING) {
    impl_->padded_copy.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    impl_->padded_copy.assign(body);
    data = impl_->padded_copy.data();
    capacity = impl_->padded_copy.capacity();
  }
  ondemand::document doc;
  auto ec = impl_->parser.iterate(data, body.size(), capacity).get(doc);
  if (ec) {
    impl_->path.assign(to_string(op));
    return impl_->fail_json(ec);
  }
  return impl_->check_document(op, doc);
}

} // namespace jobpatch
