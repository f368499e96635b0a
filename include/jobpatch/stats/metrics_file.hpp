#pragma once
// Run metrics in the Prometheus text exposition format (0.0.4) for node_exporter's
// textfile collector (`--metrics-file`), replaced atomically so that a scrape never
// reads a half-written file.

#include <jobpatch/stats/latency_histogram.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobpatch {

// A latency summary (Prometheus "summary" type): quantiles, sum and count, in seconds.
struct metrics_latency_summary {
  std::vector<std::pair<double, double>> quantiles; // (quantile, seconds), e.g. (0.99, 0.012)
  double sum_seconds = 0;
  std::uint64_t count = 0;
};

// Quantiles 0.5, 0.9, 0.99 and 0.999, sum and count of a histogram.
metrics_latency_summary summarize_latency(const latency_histogram& h);

// Everything one metrics file reports. Plain data, filled by the engine.
struct metrics_snapshot {
  std::uint64_t lines_ok = 0;
  std::uint64_t lines_failed = 0;
  std::uint64_t lines_invalid = 0;
  std::uint64_t lines_skipped = 0;
  std::uint64_t lines_unchanged = 0; // --skip-unchanged: nothing to send
  std::uint64_t lines_in_doubt = 0;  // of lines_failed: the PATCH may have been applied
  std::uint64_t attempts = 0;
  std::uint64_t retries = 0;
  double run_duration_seconds = 0;
  // Unix time of the last applied update; 0 = none yet (so "time() - x > N" alerts fire).
  double last_success_timestamp_seconds = 0;
  bool in_progress = false;
  std::optional<int> exit_code; // set once the run has finished
  metrics_latency_summary latency;
  std::vector<std::pair<int, std::uint64_t>> requests_by_status;      // (200, n), (503, n)
  std::vector<std::pair<std::string, std::uint64_t>> errors_by_class; // ("timeout", n)
  // Why lines failed, one count per line: the summaries' byError keys ("withheld (an
  // earlier update of the job failed)", "HTTP 404 Not Found"), shown as reason labels.
  std::vector<std::pair<std::string, std::uint64_t>> failed_by_reason;
  // Requests in flight and the limit on them (--connections, fixed or auto); limit 0 = not
  // exported. `paused`: --control pause.
  std::uint64_t in_flight = 0;
  unsigned concurrency_limit = 0;
  bool concurrency_auto = false;
  bool paused = false;
  std::string run_id; // jobpatch_run_info{run_id=...}; empty = no info metric
  std::string shard;  // --shard K/N: a shard="K/N" label on every series; empty = none
};

// The metric label of a byError key: its text before " (", lower case, every run of other
// characters than letters and digits one '_' ("HTTP 404 Not Found" -> "http_404_not_found",
// "withheld (an earlier ...)" -> "withheld").
std::string reason_label(std::string_view reason);

// The exposition text: HELP and TYPE lines, then samples, every name prefixed `jobpatch_`.
std::string format_metrics(const metrics_snapshot& m);

// Escapes a label value for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);

// format_metrics + write_file_atomically (results/file_writer.hpp): readers see the old
// file or the new one, never a part; the temporary name ("<path>.tmp.<pid>") does not end
// in ".prom", so the textfile collector ignores it.
void write_metrics_file(const std::string& path, const metrics_snapshot& m);

} // namespace jobpatch
