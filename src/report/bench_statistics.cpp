#include <jobpatch/report/bench_statistics.hpp>

#include <jobpatch/report/bench_baseline.hpp>
#include <jobpatch/text/json_text.hpp>
#include <jobpatch/text/json_writer.hpp>

#include <algorithm>
#include <cstdio>

namespace jobpatch {
namespace {

using std::chrono::nanoseconds;

constexpr double quantiles[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
constexpr const char* quantile_names[] = {"p50", "p90", "p99", "p99.9", "p99.99"};

double to_ms(nanoseconds ns) { return static_cast<double>(ns.count()) / 1e6; }

// "p50 1.20 ms, p90 ..., max 3.40 ms" with the report's own number format.
std::string percentiles_text(const latency_histogram& h) {
  std::string out;
  for (std::size_t i = 0; i < std::size(quantiles); ++i) {
    out += quantile_names[i];
    out += ' ';
    out += format_latency(h.percentile(quantiles[i]));
    out += ", ";
  }
  out += "max " + format_latency(h.max());
  return out;
}

// Human wording of a group for the summary and the report.
std::string_view wording(error_group g) noexcept {
  switch (g) {
  case error_group::connect:
    return "connect";
  case error_group::tls:
    return "TLS";
  case error_group::timeout:
    return "timeout";
  case error_group::reset:
    return "reset/truncated";
  case error_group::http_4xx:
    return "HTTP 4xx";
  case error_group::http_5xx:
    return "HTTP 5xx";
  case error_group::other:
    return "other";
  }
  return "other";
}

} // namespace

std::string_view identifier(error_group g) noexcept {
  switch (g) {
  case error_group::connect:
    return "connect";
  case error_group::tls:
    return "tls";
  case error_group::timeout:
    return "timeout";
  case error_group::reset:
    return "reset";
  case error_group::http_4xx:
    return "4xx";
  case error_group::http_5xx:
    return "5xx";
  case error_group::other:
    return "other";
  }
  return "other";
}

std::optional<error_group> error_group_of(attempt_outcome outcome) noexcept {
  switch (outcome.cls) {
  case error_class::none:
    return std::nullopt;
  case error_class::http_status:
    if (outcome.status >= 400 && outcome.status < 500) return error_group::http_4xx;
    if (outcome.status >= 500) return error_group::http_5xx;
    return std::nullopt;
  case error_class::connect_refused:
  case error_class::connect_failed:
  case error_class::resolve:
    return error_group::connect;
  case error_class::tls_handshake:
  case error_class::tls_verify:
    return error_group::tls;
  case error_class::timeout:
    return error_group::timeout;
  case error_class::reset:
  case error_class::truncated:
  case error_class::malformed_response:
    return error_group::reset;
  case error_class::auth_failed:
  case error_class::cancelled:
    return error_group::other;
  }
  return error_group::other;
}

bench_statistics::bench_statistics(nanoseconds timeline_bucket)
    : timeline_(timeline_bucket, 3600) {}

void bench_statistics::record_start(nanoseconds lateness, start_kind kind) noexcept {
  ++started_;
  if (lateness > late_start_threshold) {
    ++late_;
    late_by_.record(lateness);
    if (kind == start_kind::on_time_wait) {
      ++late_wakeups_;
      max_wakeup_lateness_ = std::max(max_wakeup_lateness_, lateness);
    }
  }
}

nanoseconds bench_statistics::max_lateness() const noexcept { return late_by_.max(); }
nanoseconds bench_statistics::mean_lateness() const noexcept { return late_by_.mean(); }

void bench_statistics::record_attempt(op_kind op, attempt_outcome result, nanoseconds service) {
  counts_.record_attempt(op, result, service);
  op_service_[static_cast<std::size_t>(op)].record(service);
  if (auto group = error_group_of(result)) ++groups_[static_cast<std::size_t>(*group)];
}

void bench_statistics::record_operation(op_kind op, bool ok, unsigned attempts, nanoseconds latency,
                                        nanoseconds completed) {
  counts_.record_outcome(op, ok ? outcome::ok : outcome::failed, attempts, latency);
  timeline_.record(completed, latency, ok);
}

std::vector<gate_result> bench_statistics::evaluate_gates(const std::vector<bench_gate>& gates,
                                                          const bench_run_info& info) const {
  std::vector<gate_result> out;
  for (const auto& gate : gates) {
    gate_figures f{&latency(), ok(), failed(), rate(completed(), info.wall_seconds),
                   rate(info.scheduled, info.duration_seconds)};
    if (gate.op) {
      const auto& s = counts_.op_stats(*gate.op);
      f.latency = &s.latency;
      f.ok = s.ok;
      f.failed = s.failed;
    }
    out.push_back(evaluate_gate(gate, f));
  }
  return out;
}

std::string bench_statistics::late_start_text() const {
  char line[512];
  std::string out;
  if (late_) {
    std::snprintf(line, sizeof line, "%llu of %llu requests started late (max %s, mean %s)",
                  static_cast<unsigned long long>(late_), static_cast<unsigned long long>(started_),
                  format_latency(max_lateness()).c_str(), format_latency(mean_lateness()).c_str());
    out += line;
    if (late_wakeups_ < late_)
      out += ": the pool could not keep up (the server slowed down, or there are too few "
             "connections: add --connections)";
    if (late_wakeups_) {
      std::snprintf(line, sizeof line,
                    "%s%llu of them because the client woke late (max %s): the client machine "
                    "is short of CPU, so these figures overstate the server's latency",
                    late_wakeups_ < late_ ? "; " : ": ",
                    static_cast<unsigned long long>(late_wakeups_),
                    format_latency(max_wakeup_lateness_).c_str());
      out += line;
    }
  } else if (started_) {
    out +=
        "every request started on schedule (within " + format_latency(late_start_threshold) + ")";
  }
  return out;
}

std::string bench_statistics::summary_text(const bench_run_info& info) const {
  char line[512];
  std::string out;
  double intended = rate(info.scheduled, info.duration_seconds);
  std::snprintf(
      line, sizeof line,
      "bench: %llu requests in %.2f s: %llu ok, %llu failed; %llu attempts (%llu retries); "
      "achieved %.1f/s of %.1f/s intended\n",
      static_cast<unsigned long long>(completed()), info.wall_seconds,
      static_cast<unsigned long long>(ok()), static_cast<unsigned long long>(failed()),
      static_cast<unsigned long long>(attempts()), static_cast<unsigned long long>(retries()),
      rate(completed(), info.wall_seconds), intended);
  out += line;
  if (latency().count())
    out += "latency from intended send time: " + percentiles_text(latency()) + "\n";
  if (service_time().count())
    out += "service time per attempt:        " + percentiles_text(service_time()) + "\n";
  for (std::size_t i = 0; i < op_kind_count; ++i) {
    auto op = static_cast<op_kind>(i);
    const auto& h = latency(op);
    if (!h.count()) continue;
    std::snprintf(line, sizeof line,
                  "  %-10s %8llu: p50 %s, p99 %s, p99.9 %s, max %s; service p50 %s, p99 %s\n",
                  std::string(to_string(op)).c_str(), static_cast<unsigned long long>(h.count()),
                  format_latency(h.percentile(0.5)).c_str(),
                  format_latency(h.percentile(0.99)).c_str(),
                  format_latency(h.percentile(0.999)).c_str(), format_latency(h.max()).c_str(),
                  format_latency(service_time(op).percentile(0.5)).c_str(),
                  format_latency(service_time(op).percentile(0.99)).c_str());
    out += line;
  }
  std::string answers;
  for (auto [code, n] : counts_.status_counts()) {
    answers += answers.empty() ? "" : ", ";
    answers += std::to_string(code) + ": " + std::to_string(n);
  }
  if (!answers.empty()) out += "answers: " + answers + "\n";
  std::string errors;
  for (std::size_t g = 0; g < error_group_count; ++g)
    if (groups_[g]) {
      errors += errors.empty() ? "" : ", ";
      errors +=
          std::string(wording(static_cast<error_group>(g))) + ": " + std::to_string(groups_[g]);
    }
  if (!errors.empty()) out += "errors by class: " + errors + "\n";
  if (std::string late = late_start_text(); !late.empty()) out += late + "\n";
  for (const auto& note : info.notes) out += "note: " + note + "\n";
  if (info.not_sent)
    out += std::to_string(info.not_sent) + " of " + std::to_string(info.scheduled) +
           " scheduled requests were not sent" +
           (info.signal || info.aborted
                ? std::string("\n")
                : std::string(": the duration ended before the pool could start them\n"));
  if (info.signal) out += "interrupted by signal " + std::to_string(info.signal) + "\n";
  if (info.aborted) out += "aborted: " + info.abort_reason + "\n";
  out += gates_text(info.gates);
  return out;
}

namespace {

void write_curve(json_writer& json, const latency_histogram& h) {
  percentile_curve curve = make_percentile_curve(h);
  json.begin_object("percentileCurve").fixed("step", curve.step, 3).begin_array("ms");
  for (double ms : curve.ms) json.element(ms, 3);
  json.end_array().end_object();
}

void write_settings(json_writer& json, const bench_settings& s) {
  json.begin_object("settings")
      .string("manifest", s.manifest)
      .boolean("ids", s.ids)
      .number("updates", s.updates)
      .string("baseUrl", s.base_url)
      .fixed("rate", s.rate_start, 3)
      .fixed("rateEnd", s.rate_end, 3)
      .fixed("durationSeconds", s.duration_seconds, 3)
      .number("connections", s.connections)
      .fixed("timeoutSeconds", s.timeout_seconds, 3)
      .number("maxAttempts", s.max_attempts)
      .string("tls", s.tls)
      .string("client", s.client)
      .end_object();
}

} // namespace

std::string bench_statistics::summary_json(const bench_run_info& info, int exit_code) const {
  std::string out;
  json_writer json(out);
  json.begin_object().string("mode", "bench").integer("summaryVersion", bench_summary_version);
  if (!info.run_id.empty()) json.string("runId", info.run_id);
  json.number("scheduled", info.scheduled)
      .number("total", completed())
      .number("requests", completed())
      .number("ok", ok())
      .number("failed", failed())
      .number("notSent", info.not_sent)
      .number("attempts", attempts())
      .number("retries", retries())
      .fixed("durationSeconds", info.duration_seconds, 3)
      .fixed("wallSeconds", info.wall_seconds, 3)
      .fixed("intendedRate", rate(info.scheduled, info.duration_seconds), 1)
      .fixed("requestsPerSecond", rate(completed(), info.wall_seconds), 1);
  write_latency_json(json, "latencyMs", latency());
  write_latency_json(json, "serviceMs", service_time());
  write_curve(json, latency());
  json.begin_object("byOp");
  for (std::size_t i = 0; i < op_kind_count; ++i) {
    auto op = static_cast<op_kind>(i);
    const auto& s = counts_.op_stats(op);
    if (!s.attempts) continue;
    json.begin_object(to_string(op))
        .number("ok", s.ok)
        .number("failed", s.failed)
        .number("attempts", s.attempts);
    write_latency_json(json, "latencyMs", s.latency);
    write_latency_json(json, "serviceMs", service_time(op));
    write_curve(json, s.latency);
    json.end_object();
  }
  json.end_object();
  counts_.write_answers_json(json);
  json.begin_object("errorsByClass");
  for (std::size_t g = 0; g < error_group_count; ++g)
    json.number(identifier(static_cast<error_group>(g)), groups_[g]);
  json.end_object()
      .begin_object("lateStarts")
      .number("count", late_)
      .number("started", started_)
      .fixed("maxMs", to_ms(max_lateness()), 3)
      .fixed("meanMs", to_ms(mean_lateness()), 3)
      .number("clientWokeLate", late_wakeups_)
      .fixed("clientWokeLateMaxMs", to_ms(max_wakeup_lateness_), 3)
      .fixed("thresholdMs", to_ms(late_start_threshold), 3)
      .end_object();
  write_settings(json, info.typed_settings);
  json.begin_array("gates");
  for (const auto& g : info.gates) {
    json.begin_object().string("expr", g.expression);
    if (g.actual)
      json.fixed("actual", *g.actual, 6);
    else
      json.null("actual");
    json.boolean("pass", g.pass).string("measured", g.actual_text).end_object();
  }
  json.end_array();
  write_run_end_json(json, info.signal, info.aborted, info.abort_reason, exit_code);
  json.end_object();
  out += '\n';
  return out;
}

html_report_input bench_statistics::report_input(const bench_run_info& info) const {
  html_report_input in;
  in.settings = info.settings;
  char text[64];
  std::snprintf(text, sizeof text, "%llu (%.1f/s intended)",
                static_cast<unsigned long long>(info.scheduled),
                rate(info.scheduled, info.duration_seconds));
  in.settings.emplace_back("scheduled requests", text);
  in.requests = completed();
  in.ok = ok();
  in.failed = failed();
  in.attempts = attempts();
  in.retries = retries();
  in.intended_rate_start = info.typed_settings.rate_start;
  in.intended_rate_end = info.typed_settings.rate_end;
  in.duration_seconds = info.duration_seconds;
  in.late_start_note = late_start_text();
  in.wall_seconds = info.wall_seconds;
  in.requests_per_second = rate(completed(), info.wall_seconds);
  in.latency = &latency();
  in.service_time = &service_time();
  for (std::size_t i = 0; i < op_kind_count; ++i) {
    auto op = static_cast<op_kind>(i);
    if (latency(op).count()) in.endpoints.push_back({std::string(to_string(op)), &latency(op)});
  }
  in.status_counts = counts_.status_counts();
  // Answers are listed by status above; here only what failed below HTTP.
  for (auto g : {error_group::connect, error_group::tls, error_group::timeout, error_group::reset,
                 error_group::other})
    if (auto n = group_count(g)) in.error_counts.emplace_back(std::string(wording(g)), n);
  in.late_requests = late_;
  in.max_lateness = max_lateness();
  in.timeline = &timeline_;
  in.gates = info.gates;
  return in;
}

} // namespace jobpatch
