#pragma once
// The run reports (`jobpatch bench --report FILE.html`, `jobpatch apply --report
// FILE.html`): one self-contained HTML file with inline CSS and SVG charts drawn here (no
// scripts, no network), readable in any browser and safe to attach to a ticket. Pure:
// renders a plain input to a string.

#include <jobpatch/report/bench_baseline.hpp>
#include <jobpatch/report/bench_gates.hpp>
#include <jobpatch/stats/concurrency_record.hpp>
#include <jobpatch/stats/latency_histogram.hpp>
#include <jobpatch/stats/time_series.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobpatch {

// One endpoint's latencies, drawn as one curve of the percentile chart.
struct report_endpoint {
  std::string name;                           // op name, e.g. "configs"
  const latency_histogram* latency = nullptr; // not owned; must outlive rendering
};

// Everything the report shows. Plain data, filled by the bench command (bench_statistics::
// report_input) or apply's (apply_report_input); the pointers are not owned and may be null,
// and the lists empty (that part of the report is then left out).
struct html_report_input {
  // What one latency sample is, and so how the report words its figures.
  enum class basis {
    // bench: a request, timed from its intended send time on the schedule (open loop);
    // the summary explains late starts.
    scheduled_request,
    // apply: a manifest line, timed from its first send to its final answer, retries and
    // their waits included. No schedule: nothing is said of late starts.
    line,
  };

  std::string title = "jobpatch benchmark report";
  std::string generated_at; // shown as given, e.g. "2024-05-01 12:00:00 UTC"
  // How the run ended, shown under the title as given ("exit code 143: stopped by
  // SIGTERM"); empty: not shown.
  std::string ending;
  basis measured = basis::scheduled_request;
  // Run settings in display order (base URL, rate, duration, connections...). Never
  // put secrets here: the report is meant to be shared.
  std::vector<std::pair<std::string, std::string>> settings;

  // Requests completed (ok + failed); with basis::line, the manifest's lines (settled or
  // not sent).
  std::uint64_t requests = 0;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  // More counts, shown after `failed` in this order (apply's "Invalid", "Not sent", ...).
  std::vector<std::pair<std::string, std::uint64_t>> more_counts;
  std::uint64_t attempts = 0; // HTTP attempts, retries included
  std::uint64_t retries = 0;  // attempts beyond each request's first
  // The schedule: requests/s at its start and end (equal unless a ramp) over its duration,
  // drawn in the throughput chart; 0 = not known (not drawn).
  double intended_rate_start = 0, intended_rate_end = 0, duration_seconds = 0;
  double wall_seconds = 0;
  double requests_per_second = 0; // with basis::line, attempts per second

  // All requests, latency from the intended send time: the summary percentiles.
  const latency_histogram* latency = nullptr;
  std::vector<report_endpoint> endpoints;
  // Per attempt, from the actual send to the answer (service time).
  const latency_histogram* service_time = nullptr;

  std::vector<std::pair<int, std::uint64_t>> status_counts;        // (200, n)
  std::vector<std::pair<std::string, std::uint64_t>> error_counts; // ("timeout", n)
  // Why lines failed, one count per line, most frequent first (apply's byError).
  std::vector<std::pair<std::string, std::uint64_t>> failure_reasons;

  // Requests sent later than intended because the client fell behind.
  std::uint64_t late_requests = 0;
  std::chrono::nanoseconds max_lateness{0};
  // The explanation of late starts as stderr's summary words it (bench_statistics::
  // late_start_text); when empty, the report words one from the two fields above.
  std::string late_start_note;

  const time_series* timeline = nullptr; // throughput and latency over time

  // The requests allowed in flight (--connections, fixed or auto) over the run, drawn as
  // a step chart up to wall_seconds, and the operator's live changes (--control).
  const concurrency_record* concurrency = nullptr;

  std::vector<gate_result> gates; // --fail-if verdicts; the section is left out when none

  // --baseline: the comparison table and the baseline's percentile curves, drawn dashed
  // beside this run's (by endpoint name; "all requests" for the whole run).
  struct baseline_view {
    std::string label; // the file, and its run id
    std::vector<comparison_row> rows;
    std::vector<std::pair<std::string, percentile_curve>> curves;
  };
  std::optional<baseline_view> baseline;
};

// The whole HTML document.
std::string render_html_report(const html_report_input& in);

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view text);

// A latency with three significant digits and a unit, as the report shows it:
// "850 ns", "12.3 µs", "3.21 ms", "1.50 s".
std::string format_latency(std::chrono::nanoseconds d);

} // namespace jobpatch
