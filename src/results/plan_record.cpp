#include <jobpatch/results/plan_record.hpp>

#include <jobpatch/results/result_record.hpp>
#include <jobpatch/text/json_text.hpp>
#include <jobpatch/text/json_writer.hpp>
#include <jobpatch/text/utf8.hpp>

#include <system_error>

namespace jobpatch {
namespace {

constexpr std::array<std::string_view, plan_outcome_count> names = {
    "change", "unchanged", "not_found", "failed", "invalid"};

// `value` (compact JSON, or server text) cut to about `max` bytes on a UTF-8 boundary,
// "…" marking the cut. What a terminal could take for a control (C1 code points, which
// JSON strings may hold raw, bytes that are not UTF-8, bidirectional and invisible format
// controls) is shown escaped, as JSON would escape it.
void append_shown(std::string& out, std::string_view value, std::size_t max) {
  static constexpr char hex[] = "0123456789abcdef";
  bool cut = value.size() > max;
  if (cut) {
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80) --end;
    value = value.substr(0, end);
  }
  for (std::size_t i = 0; i < value.size();) {
    std::size_t length = utf8_sequence_length(value, i);
    char32_t c = length ? utf8_code_point(value, i, length) : 0xFFFD;
    if (length == 0 || is_unsafe_on_terminal(c)) {
      unsigned code = length ? static_cast<unsigned>(c) : static_cast<unsigned char>(value[i]);
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4) out += hex[(code >> shift) & 0xF];
      i += length ? length : 1;
      continue;
    }
    out.append(value.substr(i, length));
    i += length;
  }
  if (cut) out += "…";
}

void append_prefix(std::string& out, const plan_record& r) {
  out += "line ";
  append_uint(out, r.line);
  if (r.job_id.empty()) return; // an invalid line may name none
  out += ' ';
  // A job id is shown as JSON, escaped, when it holds anything a terminal could take for
  // control, or a space.
  bool plain = is_valid_utf8(r.job_id);
  for (std::size_t i = 0; plain && i < r.job_id.size();) {
    std::size_t length = utf8_sequence_length(r.job_id, i);
    char32_t c = utf8_code_point(r.job_id, i, length);
    plain = c != ' ' && !is_unsafe_on_terminal(c);
    i += length;
  }
  if (plain) {
    out += r.job_id;
    return;
  }
  std::string quoted;
  append_json_string(quoted, r.job_id);
  append_shown(out, quoted, quoted.size());
}

} // namespace

std::string_view to_string(plan_outcome o) noexcept { return names[static_cast<std::size_t>(o)]; }

void append_plan_ndjson(std::string& out, const plan_record& r) {
  append_record_start(out, r.line, r.job_id, r.op);
  out += ",\"outcome\":\"";
  out += to_string(r.result);
  out += '"';
  if (r.status) {
    out += ",\"status\":";
    append_int(out, r.status);
  }
  if (r.result == plan_outcome::change || r.result == plan_outcome::unchanged) {
    out += ",\"changes\":[";
    bool first = true;
    if (r.changes)
      for (const auto& c : *r.changes) {
        if (!c.changes) continue;
        out += first ? "{\"field\":\"" : ",{\"field\":\"";
        first = false;
        out += field_label(c.field);
        out += '"';
        if (c.from) {
          out += ",\"from\":";
          out += *c.from; // compact JSON from the parser
        }
        out += ",\"to\":";
        out += c.to;
        out += '}';
      }
    out += ']';
  }
  if (!r.error.empty()) {
    out += ",\"error\":";
    append_json_string(out, r.error);
  }
  out += "}\n";
}

void append_plan_text(std::string& out, const plan_record& r, std::size_t max_value) {
  switch (r.result) {
  case plan_outcome::change:
    if (r.changes)
      for (const auto& c : *r.changes) {
        if (!c.changes) continue;
        append_prefix(out, r);
        out += ' ';
        out += field_label(c.field);
        out += ": ";
        if (c.from)
          append_shown(out, *c.from, max_value);
        else
          out += "(absent)";
        out += " → ";
        append_shown(out, c.to, max_value);
        out += '\n';
      }
    return;
  case plan_outcome::unchanged:
    append_prefix(out, r);
    out += " unchanged (";
    out += r.op ? to_string(*r.op) : std::string_view("?");
    out += " already holds these values)\n";
    return;
  case plan_outcome::not_found:
    append_prefix(out, r);
    out += " job not found";
    break;
  case plan_outcome::failed:
    append_prefix(out, r);
    out += " could not be read";
    break;
  case plan_outcome::invalid:
    append_prefix(out, r);
    out += " invalid";
    break;
  }
  if (!r.error.empty()) {
    out += ": ";
    append_shown(out, r.error, 300);
  }
  out += '\n';
}

plan_sink::plan_sink(output_thread& out, const std::string& text_path,
                     const std::string& output_path)
    : out_(out) {
  using kind = output_thread::kind;
  if (!text_path.empty())
    text_ = out_.add(file_writer(text_path, file_writer::mode::truncate), kind::records, false);
  if (!output_path.empty())
    output_ = out_.add(file_writer(output_path, file_writer::mode::truncate), kind::records, true);
}

void plan_sink::record(const plan_record& r) {
  ++counts_[static_cast<std::size_t>(r.result)];
  if (r.result == plan_outcome::change && r.changes)
    for (const auto& c : *r.changes) fields_changed_ += c.changes ? 1 : 0;
  if (text_) append_plan_text(out_.append_to(*text_), r);
  if (output_) append_plan_ndjson(out_.append_to(*output_), r);
}

std::uint64_t plan_sink::total() const noexcept {
  std::uint64_t n = 0;
  for (auto c : counts_) n += c;
  return n;
}

std::string plan_sink::totals_text() const {
  auto n = [&](plan_outcome o) { return std::to_string(count(o)); };
  return "plan: " + std::to_string(total()) + " lines: " + n(plan_outcome::change) +
         " change something (" + std::to_string(fields_changed_) + " fields), " +
         n(plan_outcome::unchanged) + " unchanged, " + n(plan_outcome::not_found) +
         " jobs not found, " + n(plan_outcome::failed) + " failed reads, " +
         n(plan_outcome::invalid) + " invalid\n";
}

void plan_sink::totals_json(json_writer& json) const {
  json.begin_object("plan")
      .number("total", total())
      .number("change", count(plan_outcome::change))
      .number("unchanged", count(plan_outcome::unchanged))
      .number("notFound", count(plan_outcome::not_found))
      .number("failed", count(plan_outcome::failed))
      .number("invalid", count(plan_outcome::invalid))
      .number("fieldsChanged", fields_changed_)
      .end_object();
}

} // namespace jobpatch
