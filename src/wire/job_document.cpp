#include <jobpatch/wire/job_document.hpp>

#include "text/json_checks.hpp"

#include <jobpatch/text/json_text.hpp>

namespace jobpatch {

namespace ondemand = detail::ondemand;
namespace dom = simdjson::dom;

namespace {

struct field_info {
  std::string_view label, key;
  op_kind op;
  bool int64; // proto3 int64: "300" and 300 are one value
};

constexpr std::array<field_info, job_field_count> fields = {{
    {"jobname", "", op_kind::jobname, false},
    {"configs.taskTimeout", "taskTimeout", op_kind::configs, true},
    {"configs.jobTimeout", "jobTimeout", op_kind::configs, true},
    {"configs.isTestJob", "isTestJob", op_kind::configs, false},
    {"params.preset", "preset", op_kind::params, false},
    {"params.partitioner", "partitioner", op_kind::params, false},
    {"params.assembler", "assembler", op_kind::params, false},
    {"params.app", "app", op_kind::params, false},
    {"datasource.dataSource", "dataSource", op_kind::datasource, false},
    {"datasource.dataDestination", "dataDestination", op_kind::datasource, false},
}};

const field_info& info(job_field f) noexcept { return fields[static_cast<std::size_t>(f)]; }

// The field of `op` whose body key is `key`, if any.
std::optional<job_field> field_of(op_kind op, std::string_view key) noexcept {
  for (std::size_t i = 0; i < fields.size(); ++i)
    if (fields[i].op == op && fields[i].key == key) return static_cast<job_field>(i);
  return std::nullopt;
}

} // namespace

std::string_view field_label(job_field f) noexcept { return info(f).label; }
std::string_view body_key(job_field f) noexcept { return info(f).key; }
op_kind op_of(job_field f) noexcept { return info(f).op; }

bool any_change(const std::vector<field_change>& changes) noexcept {
  for (const auto& c : changes)
    if (c.changes) return true;
  return false;
}

struct job_document_reader::impl {
  ondemand::parser parser;
  dom::parser body_parser, left, right;
  std::string body_copy, scratch, left_copy, right_copy;

  // Compact JSON of `value` into `out`; nullopt for null (proto3: not set). False when
  // the value is not valid JSON: On Demand checks a value only as far as it reads it, and
  // this text goes into plans and undo lines.
  bool store(ondemand::value value, std::optional<std::string>& out);
  bool store(detail::job_value value, std::optional<std::string>& out);
  bool store_text(std::string_view raw, std::optional<std::string>& out);
  bool read_object(detail::job_value value, job_document& doc, job_field first, job_field last);
  dom::parser check;
  std::string check_copy;
  detail::job_key_check keys;
  ondemand::parser nested; // reads config and params, once walked through for their keys
  std::string nested_copy;
  bool equal(std::string_view a, std::string_view b, bool int64_strings);
};

bool job_document_reader::impl::store(ondemand::value value, std::optional<std::string>& out) {
  out.reset();
  ondemand::json_type type;
  if (value.type().get(type)) return false;
  std::string_view raw;
  if (type == ondemand::json_type::object) {
    ondemand::object o;
    if (value.get_object().get(o) || o.raw_json().get(raw)) return false;
  } else if (type == ondemand::json_type::array) {
    ondemand::array a;
    if (value.get_array().get(a) || a.raw_json().get(raw)) return false;
  } else if (type == ondemand::json_type::null) {
    bool null = false;
    return !value.is_null().get(null) && null; // "nul" is not null
  } else {
    raw = detail::trim_token(value.raw_json_token());
  }
  return store_text(raw, out);
}

bool job_document_reader::impl::store(detail::job_value value, std::optional<std::string>& out) {
  if (value.is_scalar()) return store(value.value, out);
  out.reset();
  return store_text(value.raw, out);
}

bool job_document_reader::impl::store_text(std::string_view raw, std::optional<std::string>& out) {
  scratch.resize(raw.size());
  std::size_t length = 0;
  if (simdjson::minify(raw.data(), raw.size(), scratch.data(), length)) return false;
  auto input = detail::pad_for_simdjson(std::string_view(scratch.data(), length), 0, check_copy);
  dom::element ignored;
  if (check.parse(input.data, input.size, false).get(ignored)) return false;
  out.emplace(scratch.data(), length);
  return true;
}

// The members of a nested object (config, params) named by the fields first..last. The
// walk has read the object through (for its keys): its text is read again on its own.
bool job_document_reader::impl::read_object(detail::job_value value, job_document& doc,
                                            job_field first, job_field last) {
  bool null = false;
  if (value.is_scalar()) return !value.value.is_null().get(null) && null; // null: not set
  if (!value.is_object()) return false;
  auto input = detail::pad_for_simdjson(value.raw, 0, nested_copy);
  ondemand::document nested_doc;
  ondemand::object object;
  if (nested.iterate(input.data, input.size, input.capacity).get(nested_doc) ||
      nested_doc.get_object().get(object))
    return false;
  for (auto member : object) {
    ondemand::field f;
    std::string_view key;
    if (std::move(member).get(f) || f.unescaped_key().get(key)) return false;
    for (auto i = static_cast<std::size_t>(first); i <= static_cast<std::size_t>(last); ++i)
      if (fields[i].key == key && !store(f.value(), doc.values[i])) return false;
  }
  return true;
}

bool job_document_reader::impl::equal(std::string_view a, std::string_view b, bool int64_strings) {
  auto x_in = detail::pad_for_simdjson(a, 0, left_copy);
  auto y_in = detail::pad_for_simdjson(b, 0, right_copy);
  dom::element x, y;
  if (left.parse(x_in.data, x_in.size, false).get(x)) return false;
  if (right.parse(y_in.data, y_in.size, false).get(y)) return false;
  return detail::json_equal(x, y, detail::json_match::equal, int64_strings);
}

job_document_reader::job_document_reader() : impl_(std::make_unique<impl>()) {}
job_document_reader::~job_document_reader() = default;
job_document_reader::job_document_reader(job_document_reader&&) noexcept = default;
job_document_reader& job_document_reader::operator=(job_document_reader&&) noexcept = default;

// One forward pass over the document (On Demand cannot go back).
bool job_document_reader::parse(std::string_view body, std::size_t readable, job_document& out,
                                std::string& error) {
  out.id.clear();
  out.state.clear();
  for (auto& v : out.values) v.reset();
  auto input = detail::pad_for_simdjson(body, readable, impl_->body_copy);
  ondemand::document doc;
  if (auto ec = impl_->parser.iterate(input.data, input.size, input.capacity).get(doc)) {
    error = "the job document is not JSON (";
    error += detail::describe_json_error(ec);
    error += ')';
    return false;
  }
  std::string_view unreadable; // a field that is not JSON
  auto walked = detail::walk_job_fields(
      doc, impl_->keys, [&](std::string_view name, detail::job_value value) {
        std::string_view text;
        bool readable = true;
        if (name == "id") {
          if (value.string(text)) out.id.assign(text);
        } else if (name == "state") {
          if (value.string(text)) out.state.assign(text);
        } else if (name == "name") {
          if (value.string(text)) {
            out.values[static_cast<std::size_t>(job_field::name)].emplace();
            append_json_string(*out.values[static_cast<std::size_t>(job_field::name)], text);
          } else {
            std::optional<std::string> not_a_name; // null, or JSON of another kind: absent
            readable = impl_->store(value, not_a_name);
          }
        } else if (name == "config") {
          readable =
              impl_->read_object(value, out, job_field::task_timeout, job_field::is_test_job);
        } else if (name == "params") {
          readable = impl_->read_object(value, out, job_field::preset, job_field::app);
        } else if (name == "dataSource") {
          readable =
              impl_->store(value, out.values[static_cast<std::size_t>(job_field::data_source)]);
        } else if (name == "dataDestination") {
          readable = impl_->store(
              value, out.values[static_cast<std::size_t>(job_field::data_destination)]);
        }
        if (!readable) unreadable = name;
        return readable;
      });
  if (walked == detail::job_walk::not_object) {
    error = "the job document is not a JSON object";
    return false;
  }
  if (walked == detail::job_walk::repeated_key) {
    // Which of two values is the job's? Undo lines and plans must not guess.
    error.clear();
    impl_->keys.describe(error);
    return false;
  }
  if (walked == detail::job_walk::stopped) {
    // A field jobpatch shows and restores is not JSON: the answer is broken (or cut
    // short), not a document to plan or undo with.
    error = "the job document's \"";
    error += unreadable;
    error += "\" is not valid JSON";
    return false;
  }
  if (walked == detail::job_walk::no_job) {
    error = "the answer has no readable \"job\" object";
    return false;
  }
  return true;
}

bool job_document_reader::compare(const operation& op, const job_document& doc,
                                  std::vector<field_change>& out) {
  out.clear();
  auto add = [&](job_field f, std::string_view to) {
    field_change& c = out.emplace_back();
    c.field = f;
    c.from = doc.value(f);
    c.to.resize(to.size());
    std::size_t length = 0;
    if (simdjson::minify(to.data(), to.size(), c.to.data(), length)) return false;
    c.to.resize(length);
    c.changes = !c.from || !impl_->equal(*c.from, c.to, info(f).int64);
    return true;
  };
  if (op.op == op_kind::jobname) return add(job_field::name, op.body);
  auto input = detail::pad_for_simdjson(op.body, 0, impl_->body_copy);
  ondemand::document body;
  ondemand::object object;
  if (impl_->parser.iterate(input.data, input.size, input.capacity).get(body) ||
      body.get_object().get(object))
    return false;
  for (auto member : object) {
    ondemand::field f;
    std::string_view key;
    if (std::move(member).get(f) || f.unescaped_key().get(key)) return false;
    auto field = field_of(op.op, key);
    if (!field) return false;
    ondemand::value value = f.value();
    std::string_view raw;
    ondemand::json_type type;
    if (value.type().get(type)) return false;
    if (type == ondemand::json_type::object) {
      ondemand::object o;
      if (value.get_object().get(o) || o.raw_json().get(raw)) return false;
    } else {
      raw = detail::trim_token(value.raw_json_token());
    }
    if (!add(*field, raw)) return false;
  }
  return true;
}

field_mask fields_set_by(const operation& op) {
  if (op.op == op_kind::jobname) return bit_of(job_field::name);
  // compare() against a document that holds nothing lists exactly the body's fields.
  job_document_reader reader;
  job_document none;
  std::vector<field_change> changes;
  if (!reader.compare(op, none, changes)) return 0;
  field_mask mask = 0;
  for (const auto& c : changes) mask |= bit_of(c.field);
  return mask;
}

std::string undo_line(const operation& op, const std::vector<field_change>& changes,
                      field_mask skip, std::vector<job_field>& absent, field_mask& taken) {
  taken = 0;
  std::string body;
  for (const auto& c : changes) {
    if (skip & bit_of(c.field)) continue;
    if (!c.from) {
      absent.push_back(c.field);
      continue;
    }
    if (op.op == op_kind::jobname) {
      body = *c.from;
    } else {
      body += body.empty() ? '{' : ',';
      append_json_string(body, body_key(c.field));
      body += ':';
      body += *c.from;
    }
    taken |= bit_of(c.field);
  }
  if (!taken) return {};
  if (op.op != op_kind::jobname) body += '}';
  std::string line = "{\"jobId\":";
  append_json_string(line, op.job_id);
  line += ",\"op\":\"";
  line += to_string(op.op);
  line += "\",\"body\":";
  line += body;
  line += '}';
  return line;
}

} // namespace jobpatch
