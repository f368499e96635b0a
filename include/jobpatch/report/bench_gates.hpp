#pragma once
// `jobpatch bench --fail-if EXPR`: thresholds a benchmark must meet, so that a scheduled
// latency check fails its job. Pure: parsing and judging, no I/O.
//
//   [OP:]METRIC CMP VALUE
//   METRIC  p50 p90 p99 p99.9 p99.99 max mean (latency from the intended send time;
//           VALUE with a unit: us, ms or s), errors (failed requests / completed
//           requests; VALUE in %), rate (achieved / intended rate, whole run only;
//           VALUE a ratio, or %)
//   CMP     < <= > >=
//   OP      datasource params jobname configs: that endpoint's requests only

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/stats/latency_histogram.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobpatch {

struct bench_gate {
  enum class metric : std::uint8_t { percentile, max, mean, errors, rate };
  enum class comparison : std::uint8_t { less, less_equal, greater, greater_equal };

  std::string expression;    // as typed
  std::optional<op_kind> op; // one endpoint, or the whole run
  metric what = metric::percentile;
  double quantile = 0.5; // for metric::percentile
  comparison compare = comparison::less;
  // Milliseconds (latencies), a fraction (errors: 0.001 for 0.1%), or a ratio (rate).
  double threshold = 0;
};

// Parses one --fail-if expression (spaces allowed around the parts). Throws
// std::invalid_argument naming the expression and saying what was expected; also for a
// gate no run can pass: a rate above 1 (100 %), or a comparison past a metric's bound
// (below 0: `errors<0%`, `rate<0`, `p99<0ms`, `p99<=0ms`; above it: `errors>100%`,
// `rate>1`).
bench_gate parse_bench_gate(std::string_view expression);

// What gates are judged on: one endpoint's figures or the whole run's.
struct gate_figures {
  const latency_histogram* latency = nullptr;  // from the intended send time
  std::uint64_t ok = 0, failed = 0;            // completed requests
  double achieved_rate = 0, intended_rate = 0; // requests/s (whole run)
};

struct gate_result {
  std::string expression;
  // The measured value, in the threshold's unit (ms, a fraction, a ratio); absent when
  // there was nothing to measure (no request of that endpoint completed): a failure.
  std::optional<double> actual;
  bool pass = false;
  std::string actual_text; // "p99 12.3 ms", "errors 0.25%", "rate 0.97", "no requests"
};

// Judges `gate` on `figures` (the endpoint's when gate.op is set).
gate_result evaluate_gate(const bench_gate& gate, const gate_figures& figures);

// "2 of 3 gates passed" and one line per gate ("  FAIL  p50<1us: p50 1.21 ms").
std::string gates_text(const std::vector<gate_result>& results);

} // namespace jobpatch
