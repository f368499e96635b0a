#include <jobpatch/stats/metrics_file.hpp>

#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/text/json_text.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace jobpatch {
namespace {

// Go's ParseFloat spellings for the non-finite values; otherwise the shortest text that
// reads back as the same double.
void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_value(std::string& out, std::uint64_t v) { append_uint(out, v); }

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP jobpatch_";
  out += name;
  out += ' ';
  out += help; // our own constant text: no backslashes or newlines to escape
  out += "\n# TYPE jobpatch_";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

// Writes one sample line: `common` (labels every series carries, already formatted, e.g.
// shard="1/4") and an optional label of its own.
template <class V>
void sample(std::string& out, std::string_view common, std::string_view name, V value,
            std::string_view label = {}, std::string_view label_value = {}) {
  out += "jobpatch_";
  out += name;
  if (!label.empty() || !common.empty()) {
    out += '{';
    out += common;
    if (!label.empty()) {
      if (!common.empty()) out += ',';
      out += label;
      out += "=\"";
      out += escape_label_value(label_value);
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  append_value(out, value);
  out += '\n';
}

} // namespace

metrics_latency_summary summarize_latency(const latency_histogram& h) {
  metrics_latency_summary s;
  for (double q : {0.5, 0.9, 0.99, 0.999})
    s.quantiles.emplace_back(q, static_cast<double>(h.percentile(q).count()) / 1e9);
  s.count = h.count();
  // mean() is the exact sum divided by the count (integer nanoseconds).
  s.sum_seconds = static_cast<double>(h.mean().count()) / 1e9 * static_cast<double>(h.count());
  return s;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
    case '\\':
      out += "\\\\";
      break;
    case '"':
      out += "\\\"";
      break;
    case '\n':
      out += "\\n";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string reason_label(std::string_view reason) {
  if (auto paren = reason.find(" ("); paren != std::string_view::npos)
    reason = reason.substr(0, paren);
  std::string out;
  for (char c : reason) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
      alnum = true;
    }
    if (alnum)
      out += c;
    else if (!out.empty() && out.back() != '_')
      out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "other" : out;
}

std::string format_metrics(const metrics_snapshot& m) {
  std::string out;
  // Several shards' files side by side in one textfile directory must not collide:
  // node_exporter refuses a series that two files both define.
  std::string common;
  if (!m.shard.empty()) common = "shard=\"" + escape_label_value(m.shard) + '"';
  if (!m.run_id.empty()) {
    header(out, "run_info", "gauge", "Always 1; names the run (its runId in results and summary).");
    std::string labels = "run_id=\"" + escape_label_value(m.run_id) + '"';
    if (!common.empty()) labels = common + ',' + labels;
    sample(out, labels, "run_info", std::uint64_t{1});
  }
  header(out, "lines_total", "counter", "Manifest lines by final outcome.");
  sample(out, common, "lines_total", m.lines_ok, "outcome", "ok");
  sample(out, common, "lines_total", m.lines_failed, "outcome", "failed");
  sample(out, common, "lines_total", m.lines_invalid, "outcome", "invalid");
  sample(out, common, "lines_total", m.lines_skipped, "outcome", "skipped");
  sample(out, common, "lines_total", m.lines_unchanged, "outcome", "unchanged");
  header(out, "lines_in_doubt_total", "counter",
         "Failed lines whose PATCH may have been applied (sent, then no usable answer).");
  sample(out, common, "lines_in_doubt_total", m.lines_in_doubt);
  if (!m.failed_by_reason.empty()) {
    // Reasons whose labels coincide are added up: a series appears once.
    std::vector<std::pair<std::string, std::uint64_t>> by_label;
    for (const auto& [reason, n] : m.failed_by_reason) {
      std::string label = reason_label(reason);
      auto it = std::find_if(by_label.begin(), by_label.end(),
                             [&](const auto& e) { return e.first == label; });
      if (it == by_label.end())
        by_label.emplace_back(std::move(label), n);
      else
        it->second += n;
    }
    header(out, "failed_lines_total", "counter",
           "Failed lines by reason (withheld, retry_budget_exhausted, http_404_not_found, ...).");
    for (const auto& [label, n] : by_label)
      sample(out, common, "failed_lines_total", n, "reason", label);
  }
  header(out, "attempts_total", "counter", "HTTP requests sent, retries included.");
  sample(out, common, "attempts_total", m.attempts);
  header(out, "retries_total", "counter", "Requests that repeated an earlier attempt.");
  sample(out, common, "retries_total", m.retries);
  header(out, "run_duration_seconds", "gauge", "Wall-clock time of the run so far.");
  sample(out, common, "run_duration_seconds", m.run_duration_seconds);
  header(out, "last_success_timestamp_seconds", "gauge",
         "Unix time of the last applied update (0 = none).");
  sample(out, common, "last_success_timestamp_seconds", m.last_success_timestamp_seconds);
  header(out, "run_in_progress", "gauge", "1 while a run is going, 0 once it has finished.");
  sample(out, common, "run_in_progress", std::uint64_t{m.in_progress ? 1u : 0u});
  if (m.concurrency_limit > 0) {
    header(out, "requests_in_flight", "gauge", "Requests sent and not yet answered.");
    sample(out, common, "requests_in_flight", m.in_flight);
    header(out, "concurrency_limit", "gauge",
           "Requests allowed in flight: --connections, or its adaptive limit (mode=\"auto\").");
    sample(out, common, "concurrency_limit", std::uint64_t{m.concurrency_limit}, "mode",
           m.concurrency_auto ? "auto" : "fixed");
    header(out, "paused", "gauge", "1 while an operator's pause (jobpatch control) holds.");
    sample(out, common, "paused", std::uint64_t{m.paused ? 1u : 0u});
  }
  if (m.exit_code) {
    header(out, "exit_code", "gauge",
           "Exit code of the finished run (0 ok, 1 some failed, 2 usage, 3 aborted, 4 output not "
           "written).");
    sample(out, common, "exit_code", static_cast<double>(*m.exit_code));
  }
  header(out, "request_duration_seconds", "summary",
         "Per-line latency, first send to final answer, retries included.");
  for (const auto& [q, seconds] : m.latency.quantiles) {
    std::string label;
    append_value(label, q);
    sample(out, common, "request_duration_seconds", seconds, "quantile", label);
  }
  sample(out, common, "request_duration_seconds_sum", m.latency.sum_seconds);
  sample(out, common, "request_duration_seconds_count", m.latency.count);
  if (!m.requests_by_status.empty()) {
    header(out, "requests_total", "counter", "HTTP answers by status code.");
    for (const auto& [status, n] : m.requests_by_status)
      sample(out, common, "requests_total", n, "status", std::to_string(status));
  }
  if (!m.errors_by_class.empty()) {
    header(out, "errors_total", "counter", "Attempts that got no HTTP answer, by error class.");
    for (const auto& [cls, n] : m.errors_by_class)
      sample(out, common, "errors_total", n, "class", cls);
  }
  return out;
}

void write_metrics_file(const std::string& path, const metrics_snapshot& m) {
  write_file_atomically(path, format_metrics(m));
}

} // namespace jobpatch
