#pragma once
// `jobpatch bench --baseline OLD.json`: this run beside an earlier one. Both are read from
// their summary JSON (the same reader for both, so they compare like for like), and the
// comparison is a list of rows that the text summary and the HTML report both show.
// Pure: no I/O.

#include <jobpatch/stats/latency_histogram.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jobpatch {

// The bench summary JSON's version: 2 has typed settings and percentile curves.
inline constexpr int bench_summary_version = 2;

// A latency object of a summary JSON, in milliseconds.
struct latency_figures {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0, max = 0, mean = 0;
  std::uint64_t count = 0;
};

// Latency at quantile 1 - 10^-(i * step) for i = 0, 1, ...: the percentile chart's curve.
struct percentile_curve {
  double step = 0;
  std::vector<double> ms;
};

// The curve of `h` as the summary JSON holds it: steps of 0.05 up to the nines its count
// supports (1 - 1/count; at least 99%, at most 99.999%). Empty when `h` is.
percentile_curve make_percentile_curve(const latency_histogram& h);

// What one bench run measured, as its summary JSON says.
struct bench_run_figures {
  std::string run_id;
  std::uint64_t requests = 0, ok = 0, failed = 0;
  double intended_rate = 0, achieved_rate = 0;
  latency_figures latency; // from the intended send time
  percentile_curve curve;
  struct endpoint {
    std::string name;
    std::uint64_t ok = 0, failed = 0;
    latency_figures latency;
    percentile_curve curve;
  };
  std::vector<endpoint> endpoints;

  double error_rate() const noexcept {
    return requests ? static_cast<double>(failed) / static_cast<double>(requests) : 0;
  }
};

// Reads a bench summary JSON (`--summary-json` of `jobpatch bench`; version 1 files lack
// the curves). Throws std::invalid_argument saying why it is not one (not JSON, apply's
// summary, fields missing).
bench_run_figures read_bench_summary(std::string_view json_text);

// One line of the comparison: "p99   12.3 ms   10.1 ms   +21.8%".
struct comparison_row {
  std::string metric, now, baseline, change;
  int worse = 0; // +1 this run is worse, -1 better, 0 the same (or not comparable)
};

// Percentiles, mean, max, error rate and achieved rate, overall and per endpoint both runs
// measured. A relative change for latencies and rates ("+12.5%"), a difference in
// percentage points for error rates ("+0.20 pts").
std::vector<comparison_row> compare_runs(const bench_run_figures& now,
                                         const bench_run_figures& baseline);

// The rows as a text table, headed "compared with baseline LABEL:".
std::string comparison_text(const std::vector<comparison_row>& rows, std::string_view label);

} // namespace jobpatch
