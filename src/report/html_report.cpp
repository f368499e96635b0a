#include <jobpatch/report/html_report.hpp>

#include "report/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>

namespace jobpatch {
namespace {

using namespace svg;

using std::chrono::nanoseconds;

// ---- sections ------------------------------------------------------------------------

constexpr double summary_quantiles[] = {0.5, 0.9, 0.99, 0.999, 0.9999};

// How the report names what it counts and times, by what a latency sample is.
struct wording {
  const char* unit;            // "requests": a table's count column, a histogram's y axis
  const char* all;             // the curve and row of every sample
  const char* count_figure;    // the summary's first figure
  const char* rate_figure;     // its rate figure
  const char* latency_heading; // the per-sample latency histogram
};

wording words_for(html_report_input::basis measured) {
  if (measured == html_report_input::basis::line)
    return {"lines", "all lines", "Lines", "Attempts/s",
            "Latency per line (first send to final answer)"};
  return {"requests", "all requests", "Requests", "Requests/s",
          "Latency per request (from intended send time)"};
}

bool scheduled(const html_report_input& in) {
  return in.measured == html_report_input::basis::scheduled_request;
}

void settings_section(std::string& out, const html_report_input& in) {
  if (in.settings.empty()) return;
  out += "<h2>Settings</h2><table class=\"kv\"><tbody>";
  for (const auto& [key, value] : in.settings)
    out += "<tr><th>" + html_escape(key) + "</th><td>" + html_escape(value) + "</td></tr>";
  out += "</tbody></table>";
}

void figure(std::string& out, std::string_view label, const std::string& value,
            const char* cls = "") {
  out += "<div class=\"figure " + std::string(cls) + "\"><div class=\"label\">" +
         html_escape(label) + "</div><div class=\"value\">" + html_escape(value) + "</div></div>";
}

// The summary's note: what a latency is measured from, and (bench) the late starts.
void latency_note(std::string& out, const html_report_input& in) {
  if (!scheduled(in)) {
    out += "<p class=\"note\">Latency is per line, from its first send to its final answer: "
           "retries and the waits between them count. Service time is per attempt, from the "
           "send to the answer.</p>";
    return;
  }
  out += "<p class=\"note\">Latency is measured from each request's intended send time, so time "
         "a request spent waiting for the client counts (no coordinated omission).";
  if (!in.late_start_note.empty()) {
    // The same words as the text summary on stderr.
    out += " <strong>" + html_escape(in.late_start_note) + ".</strong>";
    if (in.late_requests) out += " Late requests were still measured from their intended time.";
  } else if (in.late_requests)
    out += " <strong>" + with_commas(in.late_requests) +
           " requests started late</strong> (at most " +
           html_escape(format_latency(in.max_lateness)) +
           " behind schedule): every connection was busy when they were due, because the server "
           "slowed down or the pool is too small for the rate. They were still measured from "
           "their intended time.";
  else
    out += " Every request started on schedule.";
  out += "</p>";
}

void summary_section(std::string& out, const html_report_input& in) {
  wording words = words_for(in.measured);
  out += "<h2>Summary</h2><div class=\"figures\">";
  figure(out, words.count_figure, with_commas(in.requests));
  figure(out, "OK", with_commas(in.ok), "good");
  figure(out, "Failed", with_commas(in.failed), in.failed ? "bad" : "");
  for (const auto& [label, n] : in.more_counts) figure(out, label, with_commas(n));
  figure(out, "Attempts", with_commas(in.attempts));
  figure(out, "Retries", with_commas(in.retries), in.retries ? "warn" : "");
  figure(out, words.rate_figure,
         number(in.requests_per_second, in.requests_per_second < 100 ? 1 : 0));
  figure(out, "Duration", number(in.wall_seconds, 2) + " s");
  if (in.latency && in.latency->count()) {
    for (double q : summary_quantiles)
      figure(out, "p" + percent_label(q).substr(0, percent_label(q).size() - 1),
             format_latency(in.latency->percentile(q)));
    figure(out, "max", format_latency(in.latency->max()));
  }
  out += "</div>";
  latency_note(out, in);
}

void gates_section(std::string& out, const html_report_input& in) {
  if (in.gates.empty()) return;
  std::size_t passed = 0;
  for (const auto& g : in.gates) passed += g.pass;
  out += "<h2>Gates (--fail-if)</h2><p class=\"note\">" + std::to_string(passed) + " of " +
         std::to_string(in.gates.size()) +
         " passed. Latencies are from the intended send time; errors are failed requests of "
         "those completed.</p><table class=\"gates\"><thead><tr><th>gate</th><th>measured</th>"
         "<th>result</th></tr></thead><tbody>";
  for (const auto& g : in.gates)
    out += "<tr><th>" + html_escape(g.expression) + "</th><td>" + html_escape(g.actual_text) +
           "</td><td class=\"" + (g.pass ? "pass\">pass" : "fail\">FAIL") + "</td></tr>";
  out += "</tbody></table>";
}

void baseline_section(std::string& out, const html_report_input& in) {
  if (!in.baseline) return;
  out += "<h2>Compared with the baseline</h2><p class=\"note\">Baseline: " +
         html_escape(in.baseline->label) +
         ". Latencies from the intended send time; a change is relative (%), except error "
         "rates (percentage points).</p><table class=\"num compare\"><thead><tr><th>metric</th>"
         "<th>this run</th><th>baseline</th><th>change</th></tr></thead><tbody>";
  for (const auto& r : in.baseline->rows)
    out += "<tr><th>" + html_escape(r.metric) + "</th><td>" + html_escape(r.now) + "</td><td>" +
           html_escape(r.baseline) + "</td><td class=\"" +
           (r.worse > 0   ? "worse"
            : r.worse < 0 ? "better"
                          : "same") +
           "\">" + html_escape(r.change) + "</td></tr>";
  out += "</tbody></table>";
}

void latency_table(std::string& out, const html_report_input& in) {
  wording words = words_for(in.measured);
  out +=
      "<table class=\"num\"><thead><tr><th>endpoint</th><th>" + std::string(words.unit) + "</th>";
  for (double q : summary_quantiles) out += "<th>" + html_escape(percent_label(q)) + "</th>";
  out += "<th>max</th><th>mean</th></tr></thead><tbody>";
  auto row = [&](std::string_view name, const latency_histogram& h) {
    out += "<tr><th>" + html_escape(name) + "</th><td>" + with_commas(h.count()) + "</td>";
    for (double q : summary_quantiles)
      out += "<td>" + html_escape(format_latency(h.percentile(q))) + "</td>";
    out += "<td>" + html_escape(format_latency(h.max())) + "</td><td>" +
           html_escape(format_latency(h.mean())) + "</td></tr>";
  };
  for (const auto& e : in.endpoints)
    if (e.latency && e.latency->count()) row(e.name, *e.latency);
  if (in.latency && in.latency->count()) row(words.all, *in.latency);
  if (in.service_time && in.service_time->count())
    row("service time, per attempt (count: attempts)", *in.service_time);
  out += "</tbody></table>";
}

// The baseline's curve of endpoint `name`, drawn beside this run's (same colour, dashed).
const percentile_curve* baseline_curve(const html_report_input& in, const std::string& name) {
  if (!in.baseline) return nullptr;
  for (const auto& [n, c] : in.baseline->curves)
    if (n == name && !c.ms.empty()) return &c;
  return nullptr;
}

std::vector<std::pair<double, double>> baseline_points(const percentile_curve& c, double x_max) {
  std::vector<std::pair<double, double>> points;
  for (std::size_t p = 0; p < c.ms.size(); ++p)
    if (double t = c.step * static_cast<double>(p); t <= x_max + 1e-9)
      points.emplace_back(t, c.ms[p] * 1e6);
  return points;
}

// (a) HdrHistogram-style percentile curve: x = -log10(1 - q), latency on a log axis.
void percentile_chart(std::string& out, const html_report_input& in) {
  std::vector<std::pair<std::string, const latency_histogram*>> curves;
  for (const auto& e : in.endpoints)
    if (e.latency && e.latency->count()) curves.emplace_back(e.name, e.latency);
  if (curves.size() != 1 && in.latency && in.latency->count())
    curves.emplace_back(words_for(in.measured).all, in.latency);
  out += "<h2>Latency by percentile</h2>";
  if (curves.empty()) {
    out += empty_note("No latencies were recorded.");
    return;
  }
  std::uint64_t most = 0;
  double lo = INFINITY, hi = 0;
  for (const auto& [name, h] : curves) {
    most = std::max(most, h->count());
    lo = std::min(lo, static_cast<double>(h->min().count()));
    hi = std::max(hi, static_cast<double>(h->max().count()));
    if (const auto* c = baseline_curve(in, name)) {
      for (double ms : c->ms) {
        lo = std::min(lo, ms * 1e6);
        hi = std::max(hi, ms * 1e6);
      }
      most = std::max<std::uint64_t>(
          most, static_cast<std::uint64_t>(std::pow(10, c->step * double(c->ms.size() - 1))));
    }
  }
  // Show the "nines" the data can support: with n samples, 1 - 1/n is the last quantile.
  double x_max = std::clamp(std::ceil(std::log10(static_cast<double>(most))), 2.0, 5.0);
  axis x{0, x_max, false, {}};
  for (double t = 0; t <= x_max; ++t) x.ticks.push_back(t);
  svg_chart chart(
      "latency by percentile", x, log_axis(lo, hi),
      [](double t) { return percent_label(1 - std::pow(10, -t)); }, latency_tick,
      "percentile (log scale of 1 − q)", "latency");
  std::vector<std::pair<std::string, const char*>> entries;
  std::vector<bool> dashed;
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const auto& [name, h] = curves[i];
    bool overall = h == in.latency && curves.size() > 1;
    const char* colour = overall ? "#333333" : palette[i % palette_size];
    std::vector<std::pair<double, double>> points;
    for (double t = 0; t <= x_max + 1e-9; t += 0.02)
      points.emplace_back(t, static_cast<double>(h->percentile(1 - std::pow(10, -t)).count()));
    chart.polyline(points, colour, overall);
    entries.emplace_back(name + " (" + with_commas(h->count()) + ")", colour);
    dashed.push_back(overall);
    if (const auto* c = baseline_curve(in, name)) {
      chart.polyline(baseline_points(*c, x_max), colour, true, true);
      entries.emplace_back(name + ", baseline", colour);
      dashed.push_back(true);
    }
  }
  out += chart.finish();
  out += legend(entries, dashed);
}

// (b) Latency histograms: bars over log-spaced bins (10 per decade), one chart each for
// per-request latency and per-attempt service time, on a shared x range.
void histogram_charts(std::string& out, const html_report_input& in) {
  wording words = words_for(in.measured);
  std::vector<std::pair<std::string, const latency_histogram*>> charts;
  if (in.latency && in.latency->count()) charts.emplace_back(words.latency_heading, in.latency);
  if (in.service_time && in.service_time->count())
    charts.emplace_back("Service time per attempt (send to answer)", in.service_time);
  out += "<h2>Latency distribution</h2>";
  if (charts.empty()) {
    out += empty_note("No latencies were recorded.");
    return;
  }
  double lo = INFINITY, hi = 0;
  for (const auto& [title, h] : charts) {
    lo = std::min(lo, static_cast<double>(std::max<std::int64_t>(h->min().count(), 1)));
    hi = std::max(hi, static_cast<double>(std::max<std::int64_t>(h->max().count(), 1)));
  }
  axis x = log_axis(lo, hi);
  constexpr double bins_per_decade = 10;
  double first = std::floor(std::log10(x.lo) * bins_per_decade);
  auto bin_count = static_cast<std::size_t>(std::ceil(std::log10(x.hi) * bins_per_decade) - first);
  bin_count = std::max<std::size_t>(bin_count, 1);
  for (std::size_t c = 0; c < charts.size(); ++c) {
    const auto& [title, h] = charts[c];
    std::vector<std::uint64_t> bins(bin_count);
    h->for_each_bucket([&](const latency_histogram::bucket& b) {
      double mid = std::max(
          (static_cast<double>(b.lower.count()) + static_cast<double>(b.upper.count())) / 2, 1.0);
      auto i = static_cast<std::ptrdiff_t>(std::floor(std::log10(mid) * bins_per_decade) - first);
      bins[static_cast<std::size_t>(
          std::clamp<std::ptrdiff_t>(i, 0, static_cast<std::ptrdiff_t>(bin_count) - 1))] += b.count;
    });
    double top = static_cast<double>(*std::max_element(bins.begin(), bins.end()));
    // Service time counts attempts; bench has always said "requests" for both.
    const char* y_title = h == in.service_time && !scheduled(in) ? "attempts" : words.unit;
    svg_chart chart(
        title, x, linear_axis(0, top, 5), latency_tick,
        [](double v) { return with_commas(static_cast<std::uint64_t>(v)); }, "latency (log scale)",
        y_title);
    for (std::size_t i = 0; i < bin_count; ++i) {
      if (!bins[i]) continue;
      double x0 = std::pow(10, (first + static_cast<double>(i)) / bins_per_decade);
      double x1 = std::pow(10, (first + static_cast<double>(i) + 1) / bins_per_decade);
      chart.bar(x0, x1, static_cast<double>(bins[i]), palette[c == 0 ? 0 : 1],
                latency_tick(x0) + " – " + latency_tick(x1) + ": " + with_commas(bins[i]));
    }
    out += "<h3>" + html_escape(title) + "</h3>" + chart.finish();
  }
}

// The time series as points: per interval its middle, rates and p50/p99, with the ranges
// the charts need.
struct timeline {
  struct point {
    double mid, rate, errors, p50, p99;
  };
  std::vector<point> points;
  double width_s = 0, end_s = 0;
  bool partial = false; // the last interval, cut short, is left out of the throughput
  double top_rate = 0, lo = INFINITY, hi = 0;
};

timeline timeline_of(const time_series& ts, const html_report_input& in) {
  timeline t;
  t.width_s = static_cast<double>(ts.bucket_width().count()) / 1e9;
  t.end_s = std::max(in.wall_seconds, static_cast<double>(ts.last_offset().count()) / 1e9);
  t.top_rate = std::max(in.intended_rate_start, in.intended_rate_end);
  for (std::size_t i = 0; i < ts.buckets().size(); ++i) {
    const auto& b = ts.buckets()[i];
    double start = static_cast<double>(ts.bucket_start(i).count()) / 1e9;
    // The last interval may be cut short by the end of the run; skip a sliver of one
    // rather than plot a rate measured over a few milliseconds.
    double covered = std::min(t.width_s, t.end_s - start);
    if (covered < t.width_s * 0.25) continue;
    timeline::point p{start + covered / 2, static_cast<double>(b.count()) / covered,
                      static_cast<double>(b.errors()) / covered, NAN, NAN};
    // A rate over part of an interval (the run ended inside it) is drawn as a gap, not
    // as a drop: its latencies are still shown.
    if (covered < t.width_s * 0.999) {
      p.rate = p.errors = NAN;
      t.partial = true;
    }
    if (b.count()) {
      p.p50 = static_cast<double>(b.percentile(0.5).count());
      p.p99 = static_cast<double>(b.percentile(0.99).count());
      t.lo = std::min(t.lo, p.p50);
      t.hi = std::max(t.hi, p.p99);
    }
    if (!std::isnan(p.rate)) t.top_rate = std::max(t.top_rate, p.rate);
    t.points.push_back(p);
  }
  return t;
}

// The time axis of the charts over time, in seconds or (past 10 minutes) minutes.
struct time_axis {
  bool minutes;
  axis x;
  int fine_decimals = 1; // a tick's decimals when not whole: more for ticks under 0.1 s
  double scaled(double seconds) const { return minutes ? seconds / 60 : seconds; }
  std::string label(double v) const {
    return number(v, v == std::floor(v) ? 0 : fine_decimals) + (minutes ? " min" : " s");
  }
};

time_axis time_axis_of(double end_s) {
  time_axis t{end_s > 600, {}};
  // Time runs exactly from the start to the end of the run, with round ticks inside.
  double x_end = t.scaled(end_s);
  t.x = linear_axis(0, x_end, 8);
  t.x.hi = x_end;
  while (t.x.ticks.size() > 1 && t.x.ticks.back() > x_end * 1.0001) t.x.ticks.pop_back();
  if (t.x.ticks.size() > 1) {
    double step = t.x.ticks[1] - t.x.ticks[0];
    if (step < 0.1) t.fine_decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  }
  return t;
}

void throughput_chart(std::string& out, const html_report_input& in, const timeline& t,
                      const time_axis& time, const std::string& bucket_note) {
  svg_chart chart(
      "throughput over time", time.x, linear_axis(0, t.top_rate, 5),
      [&time](double v) { return time.label(v); },
      [](double v) { return number(v, v < 10 && v != std::floor(v) ? 1 : 0); }, "time since start",
      "requests/s");
  std::vector<std::pair<double, double>> rate, errors;
  for (const auto& p : t.points) {
    rate.emplace_back(time.scaled(p.mid), p.rate);
    errors.emplace_back(time.scaled(p.mid), p.errors);
  }
  chart.polyline(rate, palette[0]);
  chart.polyline(errors, palette[5]);
  bool intended = in.duration_seconds > 0 && in.intended_rate_start > 0;
  if (intended)
    chart.polyline({{0, in.intended_rate_start},
                    {time.scaled(std::min(in.duration_seconds, t.end_s)),
                     in.intended_rate_start + (in.intended_rate_end - in.intended_rate_start) *
                                                  std::min(1.0, t.end_s / in.duration_seconds)}},
                   "#555555", true);
  out += "<h3>Throughput by completion time" + html_escape(bucket_note) + "</h3>" + chart.finish();
  std::vector<std::pair<std::string, const char*>> entries = {{"completed requests/s", palette[0]},
                                                              {"failed requests/s", palette[5]}};
  std::vector<bool> dashed = {false, false};
  if (intended) {
    entries.emplace_back("intended rate (the schedule)", "#555555");
    dashed.push_back(true);
  }
  out += legend(entries, dashed);
  if (t.partial)
    out += "<p class=\"note\">The last interval, cut short by the end of the run, is left "
           "out of the throughput (a rate over part of it would show as a drop).</p>";
}

void latency_over_time_chart(std::string& out, const timeline& t, const time_axis& time,
                             const std::string& bucket_note) {
  svg_chart chart(
      "latency over time", time.x, log_axis(t.lo, t.hi),
      [&time](double v) { return time.label(v); }, latency_tick, "time since start",
      "latency (log scale)");
  std::vector<std::pair<double, double>> p50, p99;
  for (const auto& p : t.points) {
    p50.emplace_back(time.scaled(p.mid), p.p50);
    p99.emplace_back(time.scaled(p.mid), p.p99);
  }
  chart.polyline(p50, palette[0]);
  chart.polyline(p99, palette[1]);
  out += "<h3>Latency from intended send time, by completion time" + html_escape(bucket_note) +
         "</h3>" + chart.finish();
  out += legend({{"p50", palette[0]}, {"p99", palette[1]}});
  out += "<p class=\"note\">Each request's latency from its intended send time (waits and "
         "retries included, as in the summary), in the interval it completed in; service time "
         "(send to answer) is in the tables above.</p>";
}

// (c) Throughput and p50/p99 latency over time, from the time series.
void timeline_charts(std::string& out, const html_report_input& in) {
  if (!in.timeline) return; // apply records none
  out += "<h2>Over time</h2>";
  if (in.timeline->buckets().empty()) {
    out += empty_note("No time series was recorded.");
    return;
  }
  timeline t = timeline_of(*in.timeline, in);
  if (t.points.empty()) {
    out += empty_note("The run was too short for a time series.");
    return;
  }
  time_axis time = time_axis_of(t.end_s);
  std::string bucket_note = " (per " + number(t.width_s, t.width_s < 10 ? 1 : 0) + " s interval)";
  throughput_chart(out, in, t, time, bucket_note);
  if (t.hi > 0) latency_over_time_chart(out, t, time, bucket_note);
}

// The limit's axis: whole numbers from 0 to a round number above the greatest limit, so
// the line never runs along the top of the plot.
axis limit_axis(unsigned most) {
  double top = std::max(1.0, static_cast<double>(most) * 1.1);
  double step = std::max(1.0, nice_step(top, 5));
  axis a{0, std::ceil(top / step) * step, false, {}};
  if (a.hi <= most) a.hi += step;
  for (double t = 0; t <= a.hi + step / 2; t += step) a.ticks.push_back(t);
  return a;
}

std::string seconds_text(double s) { return number(s, s < 100 ? 2 : 1) + " s"; }

std::string concurrency_caption(const concurrency_record& c) {
  return std::string("The limit on requests in flight, mode ") +
         (c.automatic() ? "auto (it adapts to the server's latency)" : "fixed") + ": final " +
         std::to_string(c.current()) + ", min " + std::to_string(c.least()) + ", max " +
         std::to_string(c.most()) +
         ". Each limit holds until the next change; the last until the end of the run.";
}

// The operator's live changes (--control): time and canonical words, numbered as the
// chart's markers.
void control_changes_table(std::string& out, const concurrency_record& c) {
  if (c.changes().empty()) return;
  out += "<h3>The operator's changes (--control)</h3><table class=\"changes\"><thead><tr>"
         "<th>#</th><th>at</th><th>change</th></tr></thead><tbody>";
  for (std::size_t i = 0; i < c.changes().size(); ++i) {
    const auto& change = c.changes()[i];
    out += "<tr><td>" + std::to_string(i + 1) + "</td><td>" + seconds_text(change.at_seconds) +
           "</td><td>" + html_escape(change.what) + "</td></tr>";
  }
  out += "</tbody></table>";
  if (c.changes_dropped())
    out += "<p class=\"note\">" + with_commas(c.changes_dropped()) +
           " later changes are not listed (the first " +
           std::to_string(concurrency_record::max_changes) + " are).</p>";
}

// The operator's changes as numbered markers; changes closer than about 1 % of the run
// share one ("3–4"), so their numbers never print over each other.
void change_markers(svg_chart& chart, const std::vector<concurrency_record::change>& changes,
                    const time_axis& time, double end_s) {
  for (std::size_t first = 0; first < changes.size();) {
    std::size_t last = first;
    std::string tooltip = seconds_text(changes[first].at_seconds) + ": " + changes[first].what;
    while (last + 1 < changes.size() &&
           changes[last + 1].at_seconds - changes[first].at_seconds < end_s * 0.012) {
      ++last;
      tooltip += "\n" + seconds_text(changes[last].at_seconds) + ": " + changes[last].what;
    }
    std::string label = std::to_string(first + 1);
    if (last > first) label += "–" + std::to_string(last + 1);
    chart.marker(time.scaled(changes[first].at_seconds), label, tooltip);
    first = last + 1;
  }
}

// The requests allowed in flight (--connections N or auto) over the run, a step chart to
// the end of the run, with the operator's changes as numbered markers and a table.
void concurrency_section(std::string& out, const html_report_input& in) {
  if (!in.concurrency) return;
  const concurrency_record& c = *in.concurrency;
  out += "<h2>Requests in flight</h2>";
  if (c.series().empty()) {
    out += empty_note("No limit was recorded: the run sent nothing.");
    return;
  }
  out += "<p class=\"note caption\">" + html_escape(concurrency_caption(c)) + "</p>";
  double end_s = std::max(in.wall_seconds, c.series().back().at_seconds);
  if (!(end_s > 0)) end_s = 1; // a run that ended as it started: a one-second axis
  time_axis time = time_axis_of(end_s);
  svg_chart chart(
      "requests in flight allowed over time", time.x, limit_axis(c.most()),
      [&time](double v) { return time.label(v); }, [](double v) { return number(v, 0); },
      "time since start", "requests in flight allowed");
  std::vector<std::pair<double, double>> points;
  for (const auto& p : c.series())
    points.emplace_back(time.scaled(p.at_seconds), static_cast<double>(p.limit));
  change_markers(chart, c.changes(), time, end_s);
  chart.steps(points, time.scaled(end_s), palette[0]);
  out += chart.finish();
  std::vector<std::pair<std::string, const char*>> entries = {{"limit", palette[0]}};
  std::vector<bool> dashed = {false};
  if (!c.changes().empty()) {
    entries.emplace_back("an operator's change (numbered as below)", "#777777");
    dashed.push_back(true);
  }
  out += legend(entries, dashed);
  control_changes_table(out, c);
}

// Why lines failed (apply), one count per line.
void failure_reasons_section(std::string& out, const html_report_input& in) {
  if (in.failure_reasons.empty()) return;
  out += "<h2>Why lines failed</h2><p class=\"note\">One count per failed line, by its final "
         "reason.</p><table class=\"num reasons\"><thead><tr><th>reason</th><th>lines</th>"
         "</tr></thead><tbody>";
  for (const auto& [reason, n] : in.failure_reasons)
    out += "<tr><th>" + html_escape(reason) + "</th><td>" + with_commas(n) + "</td></tr>";
  out += "</tbody></table>";
}

// (d) Answers by status and failures below HTTP by class: a table and horizontal bars.
void breakdown_section(std::string& out, const html_report_input& in) {
  out += "<h2>Answers and errors</h2><p class=\"note\">Counted per attempt: a request that was "
         "retried counts once for each attempt.</p>";
  struct row {
    std::string label;
    std::uint64_t n;
    const char* colour;
  };
  std::vector<row> rows;
  for (const auto& [status, n] : in.status_counts)
    rows.push_back({"HTTP " + std::to_string(status), n,
                    status < 300   ? "#009e73"
                    : status < 500 ? "#e69f00"
                                   : "#d55e00"});
  for (const auto& [cls, n] : in.error_counts) rows.push_back({cls, n, "#7f7f7f"});
  if (rows.empty()) {
    out += empty_note("No answers were recorded.");
    return;
  }
  std::uint64_t total = 0, top = 0;
  for (const auto& r : rows) {
    total += r.n;
    top = std::max(top, r.n);
  }
  constexpr double row_height = 26, label_width = 190, count_width = 150;
  double height = row_height * static_cast<double>(rows.size()) + 8;
  out += "<svg class=\"chart bars\" viewBox=\"0 0 " + number(chart_width, 0) + " " +
         number(height, 0) +
         "\" role=\"img\" aria-label=\"answers and errors\" xmlns=\"http://www.w3.org/2000/svg\">";
  double bar_room = chart_width - label_width - count_width;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    double y = 4 + row_height * static_cast<double>(i);
    double w =
        top ? std::max(bar_room * static_cast<double>(r.n) / static_cast<double>(top), 1.0) : 1.0;
    std::string share =
        number(total ? 100.0 * static_cast<double>(r.n) / static_cast<double>(total) : 0, 1) + "%";
    out += "<text class=\"tick\" x=\"" + number(label_width - 10, 0) + "\" y=\"" +
           number(y + 17, 1) + "\" text-anchor=\"end\">" + html_escape(r.label) + "</text>";
    out += "<rect x=\"" + number(label_width, 0) + "\" y=\"" + number(y + 3, 1) + "\" width=\"" +
           number(w, 1) + "\" height=\"" + number(row_height - 6, 1) + "\" fill=\"" + r.colour +
           "\"></rect>";
    out += "<text class=\"tick\" x=\"" + number(label_width + w + 8, 1) + "\" y=\"" +
           number(y + 17, 1) + "\">" + html_escape(with_commas(r.n) + " (" + share + ")") +
           "</text>";
  }
  out += "</svg>";
  out += "<table "
         "class=\"num\"><thead><tr><th>answer</th><th>attempts</th><th>share</th></tr></thead>"
         "<tbody>";
  for (const auto& r : rows)
    out += "<tr><th>" + html_escape(r.label) + "</th><td>" + with_commas(r.n) + "</td><td>" +
           number(total ? 100.0 * static_cast<double>(r.n) / static_cast<double>(total) : 0, 2) +
           "%</td></tr>";
  out += "</tbody></table>";
}

constexpr const char* style = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#fff;margin:0}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 4px;color:#444}
.meta,.note,.empty{color:#555}.empty{font-style:italic}.meta.ending{color:#222;font-weight:600}
table{border-collapse:collapse;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
table.num td{text-align:right;font-variant-numeric:tabular-nums}thead th{color:#555;font-weight:600}
table.kv th{font-weight:600;color:#444}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:8px}
.figure{border:1px solid #e3e3e3;border-radius:6px;padding:8px 10px}
.figure .label{color:#666;font-size:12px}.figure .value{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
.figure.good .value{color:#007a5a}.figure.warn .value{color:#b36b00}.figure.bad .value{color:#c0392b}
svg.chart{width:100%;height:auto;display:block}
svg .plot{fill:#fafafa;stroke:#bbb}svg .grid{stroke:#e4e4e4}
svg .tick{font-size:12px;fill:#444}svg .axis-title{font-size:13px;fill:#222}
svg .series{fill:none;stroke-width:2;stroke-linejoin:round}svg .area{opacity:.12;stroke:none}
svg .marker line{stroke:#777;stroke-width:1.2;stroke-dasharray:4 3}svg .series.baseline{stroke-width:1.5;opacity:.75}
td.worse{color:#c0392b;font-weight:600}td.better{color:#007a5a;font-weight:600}
td.pass{color:#007a5a;font-weight:600}td.fail{color:#c0392b;font-weight:700}
.legend{display:flex;flex-wrap:wrap;gap:16px;margin:4px 0 8px 78px;font-size:13px}
.legend i{display:inline-block;width:22px;margin-right:6px;vertical-align:middle}
)";

} // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

std::string format_latency(nanoseconds d) {
  double ns = static_cast<double>(d.count());
  // Thresholds at what rounds to 1000, so 999.7 us shows as "1.00 ms", not "1000 us".
  if (ns < 999.5) return number(ns, 0) + " ns";
  if (ns < 999.5e3) return three_digits(ns / 1e3) + " µs";
  if (ns < 999.5e6) return three_digits(ns / 1e6) + " ms";
  return three_digits(ns / 1e9) + " s";
}

std::string render_html_report(const html_report_input& in) {
  std::string out;
  out.reserve(std::size_t{64} * 1024);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>" +
         html_escape(in.title) + "</title><style>" + style + "</style></head><body><main>";
  out += "<h1>" + html_escape(in.title) + "</h1>";
  if (!in.generated_at.empty())
    out += "<p class=\"meta\">Generated " + html_escape(in.generated_at) + "</p>";
  if (!in.ending.empty()) out += "<p class=\"meta ending\">" + html_escape(in.ending) + "</p>";
  settings_section(out, in);
  summary_section(out, in);
  gates_section(out, in);
  baseline_section(out, in);
  concurrency_section(out, in);
  out += "<h2>Latency by endpoint</h2>";
  latency_table(out, in);
  percentile_chart(out, in);
  histogram_charts(out, in);
  timeline_charts(out, in);
  breakdown_section(out, in);
  failure_reasons_section(out, in);
  out += "</main></body></html>\n";
  return out;
}

} // namespace jobpatch
