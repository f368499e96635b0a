#include <jobpatch/report/bench_gates.hpp>

#include <jobpatch/report/html_report.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace jobpatch {
namespace {

constexpr const char* syntax =
    "expected [OP:]METRIC CMP VALUE, e.g. p99<250ms, p99.9<=1s, errors<0.1%, rate>=0.95, "
    "jobname:p99<200ms (METRIC: p50 p90 p99 p99.9 p99.99 max mean errors rate; CMP: < <= > >=)";

[[noreturn]] void refuse(std::string_view expression, const std::string& why) {
  throw std::invalid_argument("--fail-if \"" + std::string(expression) + "\": " + why);
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct metric_name {
  std::string_view name;
  bench_gate::metric what;
  double quantile;
};
constexpr metric_name metrics[] = {
    {"p50", bench_gate::metric::percentile, 0.5},
    {"p90", bench_gate::metric::percentile, 0.9},
    {"p99", bench_gate::metric::percentile, 0.99},
    {"p99.9", bench_gate::metric::percentile, 0.999},
    {"p99.99", bench_gate::metric::percentile, 0.9999},
    {"max", bench_gate::metric::max, 1},
    {"mean", bench_gate::metric::mean, 0},
    {"errors", bench_gate::metric::errors, 0},
    {"rate", bench_gate::metric::rate, 0},
};

// The number at the start of `text` (non-negative, finite) and the rest after it.
std::optional<double> leading_number(std::string_view text, std::string_view& rest) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || !std::isfinite(v) || v < 0) return std::nullopt;
  rest = trimmed(std::string_view(end, static_cast<std::size_t>(text.data() + text.size() - end)));
  return v;
}

std::string number_text(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

bool is_latency(bench_gate::metric m) {
  return m == bench_gate::metric::percentile || m == bench_gate::metric::max ||
         m == bench_gate::metric::mean;
}

// Refuses a gate that no run can pass, like one that does not parse: the threshold lies
// outside what the metric can measure (a rate above 1), or the comparison asks for a
// value past the metric's bound (below 0, above 100 % or 1). `name` is the metric as typed.
void refuse_unmeetable(std::string_view expression, const bench_gate& gate, std::string_view name) {
  using cmp = bench_gate::comparison;
  const std::string metric(name);
  if (gate.threshold == 0 && gate.compare == cmp::less)
    refuse(expression, metric + " is never below 0: the gate can never pass");
  if (is_latency(gate.what) && gate.threshold == 0 && gate.compare == cmp::less_equal)
    refuse(expression, "a latency is always above 0: the gate can never pass");
  if (gate.what == bench_gate::metric::rate && gate.threshold > 1)
    refuse(expression, "rate is achieved/intended, at most 1 (100%): a threshold above it "
                       "means nothing (e.g. rate>=0.95)");
  bool bounded = gate.what == bench_gate::metric::rate || gate.what == bench_gate::metric::errors;
  if (bounded && gate.threshold == 1 && gate.compare == cmp::greater)
    refuse(expression, metric + " is at most " +
                           (gate.what == bench_gate::metric::rate ? "1 (100%)" : "100%") +
                           ": the gate can never pass");
}

bool holds(double actual, bench_gate::comparison c, double threshold) {
  switch (c) {
  case bench_gate::comparison::less:
    return actual < threshold;
  case bench_gate::comparison::less_equal:
    return actual <= threshold;
  case bench_gate::comparison::greater:
    return actual > threshold;
  case bench_gate::comparison::greater_equal:
    return actual >= threshold;
  }
  return false;
}

} // namespace

bench_gate parse_bench_gate(std::string_view expression) {
  bench_gate gate;
  gate.expression = std::string(trimmed(expression));
  std::string_view text = gate.expression;
  if (text.empty()) refuse(expression, std::string("empty; ") + syntax);
  auto cmp_at = text.find_first_of("<>");
  if (cmp_at == std::string_view::npos)
    refuse(expression, std::string("no comparison (< <= > >=); ") + syntax);
  std::string_view left = trimmed(text.substr(0, cmp_at));
  std::string_view right = text.substr(cmp_at + 1);
  bool less = text[cmp_at] == '<';
  bool or_equal = !right.empty() && right.front() == '=';
  if (or_equal) right.remove_prefix(1);
  gate.compare =
      less ? (or_equal ? bench_gate::comparison::less_equal : bench_gate::comparison::less)
           : (or_equal ? bench_gate::comparison::greater_equal : bench_gate::comparison::greater);
  right = trimmed(right);

  if (auto colon = left.find(':'); colon != std::string_view::npos) {
    std::string_view op_name = trimmed(left.substr(0, colon));
    gate.op = parse_op_kind(op_name);
    if (!gate.op)
      refuse(expression, "unknown endpoint \"" + std::string(op_name) +
                             "\" (expected datasource, params, jobname or configs)");
    left = trimmed(left.substr(colon + 1));
  }
  const metric_name* found = nullptr;
  for (const auto& m : metrics)
    if (m.name == left) found = &m;
  if (!found)
    refuse(expression, "unknown metric \"" + std::string(left) +
                           "\" (expected p50, p90, p99, p99.9, p99.99, max, mean, errors or rate)");
  gate.what = found->what;
  gate.quantile = found->quantile;
  if (gate.what == bench_gate::metric::rate && gate.op)
    refuse(expression, "rate is the whole run's achieved/intended rate: it takes no endpoint");

  std::string_view unit;
  auto value = leading_number(right, unit);
  if (!value) refuse(expression, "\"" + std::string(right) + "\" is not a non-negative number");
  switch (gate.what) {
  case bench_gate::metric::percentile:
  case bench_gate::metric::max:
  case bench_gate::metric::mean:
    if (unit == "ms")
      gate.threshold = *value;
    else if (unit == "s")
      gate.threshold = *value * 1e3;
    else if (unit == "us" || unit == "µs")
      gate.threshold = *value / 1e3;
    else
      refuse(expression, "a latency needs a unit: us, ms or s (e.g. 250ms)");
    break;
  case bench_gate::metric::errors:
    if (unit != "%")
      refuse(expression, "an error rate is a percentage of the requests (e.g. errors<0.1%)");
    if (*value > 100) refuse(expression, "an error rate is at most 100%");
    gate.threshold = *value / 100;
    break;
  case bench_gate::metric::rate:
    if (unit == "%")
      gate.threshold = *value / 100;
    else if (unit.empty())
      gate.threshold = *value;
    else
      refuse(expression, "rate is achieved/intended, a ratio (e.g. rate>=0.95) or a percentage");
    break;
  }
  refuse_unmeetable(expression, gate, left);
  return gate;
}

gate_result evaluate_gate(const bench_gate& gate, const gate_figures& f) {
  gate_result r;
  r.expression = gate.expression;
  std::uint64_t completed = f.ok + f.failed;
  auto ms = [](std::chrono::nanoseconds d) { return static_cast<double>(d.count()) / 1e6; };
  std::string name;
  switch (gate.what) {
  case bench_gate::metric::percentile:
  case bench_gate::metric::max:
  case bench_gate::metric::mean: {
    for (const auto& m : metrics)
      if (m.what == gate.what &&
          (gate.what != bench_gate::metric::percentile || m.quantile == gate.quantile))
        name = m.name;
    if (!f.latency || !f.latency->count()) break;
    auto d = gate.what == bench_gate::metric::max    ? f.latency->max()
             : gate.what == bench_gate::metric::mean ? f.latency->mean()
                                                     : f.latency->percentile(gate.quantile);
    r.actual = ms(d);
    r.actual_text = name + " " + format_latency(d);
    break;
  }
  case bench_gate::metric::errors:
    if (!completed) break;
    r.actual = static_cast<double>(f.failed) / static_cast<double>(completed);
    r.actual_text = "errors " + number_text(*r.actual * 100, 3) + "% (" + std::to_string(f.failed) +
                    " of " + std::to_string(completed) + ")";
    break;
  case bench_gate::metric::rate:
    if (!(f.intended_rate > 0)) break;
    r.actual = f.achieved_rate / f.intended_rate;
    r.actual_text = "rate " + number_text(*r.actual, 3) + " (" + number_text(f.achieved_rate, 1) +
                    "/s of " + number_text(f.intended_rate, 1) + "/s)";
    break;
  }
  if (!r.actual) {
    r.actual_text = gate.op ? "no " + std::string(to_string(*gate.op)) + " request completed"
                            : "no request completed";
    r.pass = false;
    return r;
  }
  r.pass = holds(*r.actual, gate.compare, gate.threshold);
  return r;
}

std::string gates_text(const std::vector<gate_result>& results) {
  if (results.empty()) return {};
  std::size_t passed = 0;
  for (const auto& r : results) passed += r.pass;
  std::string out =
      "gates: " + std::to_string(passed) + " of " + std::to_string(results.size()) + " passed\n";
  for (const auto& r : results)
    out +=
        std::string(r.pass ? "  pass  " : "  FAIL  ") + r.expression + ": " + r.actual_text + "\n";
  return out;
}

} // namespace jobpatch
