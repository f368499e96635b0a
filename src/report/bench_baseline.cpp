#include <jobpatch/report/bench_baseline.hpp>

#include <jobpatch/report/html_report.hpp>
#include <jobpatch/text/utf8.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace jobpatch {
namespace {

namespace json = boost::json;

[[noreturn]] void not_a_summary(const std::string& why) {
  throw std::invalid_argument("not a jobpatch bench summary (--summary-json of jobpatch bench): " +
                              why);
}

const json::value& member(const json::object& o, std::string_view key, std::string_view where) {
  const json::value* v = o.if_contains(key);
  if (!v) not_a_summary(std::string(where) + std::string(key) + " is missing");
  return *v;
}

double number_of(const json::object& o, std::string_view key, std::string_view where) {
  const json::value& v = member(o, key, where);
  if (!v.is_number()) not_a_summary(std::string(where) + std::string(key) + " is not a number");
  return v.to_number<double>();
}

std::uint64_t count_of(const json::object& o, std::string_view key, std::string_view where) {
  double v = number_of(o, key, where);
  if (!(v >= 0)) not_a_summary(std::string(where) + std::string(key) + " is negative");
  return static_cast<std::uint64_t>(v);
}

const json::object& object_of(const json::object& o, std::string_view key, std::string_view where) {
  const json::value& v = member(o, key, where);
  if (!v.is_object()) not_a_summary(std::string(where) + std::string(key) + " is not an object");
  return v.get_object();
}

latency_figures latency_of(const json::object& o, std::string_view where) {
  std::string w(where);
  latency_figures f;
  f.p50 = number_of(o, "p50", w);
  f.p90 = number_of(o, "p90", w);
  f.p99 = number_of(o, "p99", w);
  f.p999 = number_of(o, "p999", w);
  f.p9999 = number_of(o, "p9999", w);
  f.max = number_of(o, "max", w);
  f.mean = number_of(o, "mean", w);
  f.count = count_of(o, "count", w);
  return f;
}

// Version 1 summaries have no curve: an empty one. `o` holds "percentileCurve".
percentile_curve curve_of(const json::object& o) {
  percentile_curve c;
  const json::value* v = o.if_contains("percentileCurve");
  if (!v || !v->is_object()) return c;
  const auto& curve = v->get_object();
  const json::value* step = curve.if_contains("step");
  const json::value* ms = curve.if_contains("ms");
  if (!step || !step->is_number() || !ms || !ms->is_array()) return c;
  c.step = step->to_number<double>();
  if (!(c.step > 0)) return {};
  for (const auto& point : ms->get_array()) {
    if (!point.is_number()) return {};
    c.ms.push_back(point.to_number<double>());
  }
  return c;
}

std::string ms_text(double ms) {
  return format_latency(
      std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ms * 1e6))));
}

std::string fixed(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

// "+1.5", "-3.0", "0.0". (Appended, not "+" + text: g++ 12 warns falsely, -Wrestrict.)
std::string signed_text(double v, int decimals) {
  if (std::abs(v) < 0.5 * std::pow(10, -decimals)) v = 0; // no "-0.0"
  std::string out;
  if (v > 0) out += '+';
  out += fixed(v, decimals);
  return out;
}

// "+12.5%", "-3.0%", "0.0%"; "n/a" against a zero baseline.
comparison_row relative_row(std::string metric, double now, double before, std::string now_text,
                            std::string before_text, bool higher_is_worse) {
  comparison_row r{std::move(metric), std::move(now_text), std::move(before_text), "n/a", 0};
  if (before > 0) {
    double change = (now - before) / before * 100;
    r.change = signed_text(change, 1) + "%";
    if (std::abs(change) >= 0.05) r.worse = (change > 0) == higher_is_worse ? 1 : -1;
  } else if (now == before) {
    r.change = "0.0%";
  }
  return r;
}

void latency_rows(std::vector<comparison_row>& rows, const std::string& prefix,
                  const latency_figures& now, const latency_figures& before, bool all) {
  struct pick {
    const char* name;
    double latency_figures::*field;
  };
  static constexpr pick every[] = {
      {"p50", &latency_figures::p50},      {"p90", &latency_figures::p90},
      {"p99", &latency_figures::p99},      {"p99.9", &latency_figures::p999},
      {"p99.99", &latency_figures::p9999}, {"max", &latency_figures::max},
      {"mean", &latency_figures::mean}};
  for (const auto& p : every) {
    std::string_view name = p.name;
    if (!all && name != "p50" && name != "p99") continue;
    rows.push_back(relative_row(prefix + p.name, now.*p.field, before.*p.field,
                                ms_text(now.*p.field), ms_text(before.*p.field), true));
  }
}

comparison_row error_row(std::string metric, double now, double before) {
  comparison_row r{std::move(metric), fixed(now * 100, 2) + "%", fixed(before * 100, 2) + "%", "",
                   0};
  double points = (now - before) * 100;
  r.change = signed_text(points, 2) + " pts";
  if (std::abs(points) >= 0.005) r.worse = points > 0 ? 1 : -1;
  return r;
}

} // namespace

percentile_curve make_percentile_curve(const latency_histogram& h) {
  percentile_curve c;
  if (!h.count()) return c;
  c.step = 0.05;
  double nines = std::clamp(std::ceil(std::log10(static_cast<double>(h.count()))), 2.0, 5.0);
  auto points = static_cast<int>(std::lround(nines / c.step));
  for (int i = 0; i <= points; ++i)
    c.ms.push_back(static_cast<double>(h.percentile(1 - std::pow(10, -i * c.step)).count()) / 1e6);
  return c;
}

bench_run_figures read_bench_summary(std::string_view json_text) {
  boost::system::error_code ec;
  json::value doc = json::parse(json_text, ec);
  if (ec) not_a_summary("not JSON (" + ec.message() + ")");
  if (!doc.is_object()) not_a_summary("not a JSON object");
  const auto& o = doc.get_object();
  const json::value* mode = o.if_contains("mode");
  if (!mode || !mode->is_string() || mode->get_string() != "bench")
    not_a_summary("its \"mode\" is not \"bench\" (an apply summary?)");
  if (const json::value* version = o.if_contains("summaryVersion");
      version && (!version->is_number() || version->to_number<double>() > bench_summary_version))
    not_a_summary("summaryVersion " + json::serialize(*version) +
                  " is newer than this jobpatch reads (" + std::to_string(bench_summary_version) +
                  ")");
  bench_run_figures f;
  if (const json::value* id = o.if_contains("runId"); id && id->is_string())
    f.run_id = std::string(id->get_string());
  f.requests = count_of(o, "requests", "");
  f.ok = count_of(o, "ok", "");
  f.failed = count_of(o, "failed", "");
  f.intended_rate = number_of(o, "intendedRate", "");
  f.achieved_rate = number_of(o, "requestsPerSecond", "");
  const auto& latency = object_of(o, "latencyMs", "");
  f.latency = latency_of(latency, "latencyMs.");
  f.curve = curve_of(o);
  for (const auto& [name, value] : object_of(o, "byOp", "")) {
    if (!value.is_object()) not_a_summary("byOp." + std::string(name) + " is not an object");
    const auto& op = value.get_object();
    std::string where = "byOp." + std::string(name) + ".";
    bench_run_figures::endpoint e;
    e.name = std::string(name);
    e.ok = count_of(op, "ok", where);
    e.failed = count_of(op, "failed", where);
    const auto& op_latency = object_of(op, "latencyMs", where);
    e.latency = latency_of(op_latency, where + "latencyMs.");
    e.curve = curve_of(op);
    f.endpoints.push_back(std::move(e));
  }
  return f;
}

std::vector<comparison_row> compare_runs(const bench_run_figures& now,
                                         const bench_run_figures& baseline) {
  std::vector<comparison_row> rows;
  latency_rows(rows, "", now.latency, baseline.latency, true);
  rows.push_back(error_row("errors", now.error_rate(), baseline.error_rate()));
  rows.push_back(relative_row("achieved rate", now.achieved_rate, baseline.achieved_rate,
                              fixed(now.achieved_rate, 1) + "/s",
                              fixed(baseline.achieved_rate, 1) + "/s", false));
  // The rate each run was asked for: an achieved rate is only comparable beside it.
  auto intended = relative_row("intended rate", now.intended_rate, baseline.intended_rate,
                               fixed(now.intended_rate, 1) + "/s",
                               fixed(baseline.intended_rate, 1) + "/s", false);
  intended.worse = 0;
  rows.push_back(std::move(intended));
  for (const auto& e : now.endpoints) {
    auto before = std::find_if(baseline.endpoints.begin(), baseline.endpoints.end(),
                               [&](const auto& b) { return b.name == e.name; });
    if (before == baseline.endpoints.end() || !e.latency.count || !before->latency.count) continue;
    latency_rows(rows, e.name + " ", e.latency, before->latency, false);
    auto rate = [](const bench_run_figures::endpoint& x) {
      auto n = x.ok + x.failed;
      return n ? static_cast<double>(x.failed) / static_cast<double>(n) : 0.0;
    };
    rows.push_back(error_row(e.name + " errors", rate(e), rate(*before)));
  }
  return rows;
}

std::string comparison_text(const std::vector<comparison_row>& rows, std::string_view label) {
  // Padded by columns, not bytes: "µs" is two bytes, one column wide.
  auto row = [](std::string_view metric, std::string_view now, std::string_view baseline,
                std::string_view change) {
    auto pad = [](std::string_view text, std::size_t width, bool right) {
      std::string spaces(width - std::min(width, utf8_columns(text)), ' ');
      return right ? spaces + std::string(text) : std::string(text) + spaces;
    };
    return "  " + pad(metric, 20, false) + " " + pad(now, 12, true) + " " +
           pad(baseline, 12, true) + "  " + std::string(change) + "\n";
  };
  std::string out = "compared with baseline " + std::string(label) + ":\n";
  out += row("", "this run", "baseline", "change");
  for (const auto& r : rows) out += row(r.metric, r.now, r.baseline, r.change);
  return out;
}

} // namespace jobpatch
