// apply's HTML report (apply --report): the requests-in-flight step chart, its caption and
// the operator's changes, and a report without bench's schedule parts.

#include <jobpatch/report/apply_report.hpp>
#include <jobpatch/report/html_report.hpp>
#include <jobpatch/stats/run_statistics.hpp>

#include "../../html_well_formed.hpp"
#include "report/svg_chart.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <utility>
#include <vector>

using namespace jobpatch;
using namespace std::chrono_literals;
using jobpatch::test::check_well_formed;
using jobpatch::test::occurrences;

namespace {

// The <svg> element labelled `label`, or "" when there is none.
std::string chart_labelled(const std::string& html, const std::string& label) {
  auto at = html.find("aria-label=\"" + label + "\"");
  if (at == std::string::npos) return {};
  auto start = html.rfind("<svg", at);
  return html.substr(start, html.find("</svg>", at) + 6 - start);
}

constexpr const char* limit_chart = "requests in flight allowed over time";

// The `d` of the chart's first <path class="series">.
std::string series_path(const std::string& svg) {
  auto at = svg.find("<path class=\"series\" d=\"");
  REQUIRE(at != std::string::npos);
  at += std::string("<path class=\"series\" d=\"").size();
  return svg.substr(at, svg.find('"', at) - at);
}

// A limit of 1 from the start, 4 at 2 s, 2 at 5 s, in a run of 10 s.
struct limit_run {
  concurrency_record record;
  html_report_input input;
  limit_run() {
    record.start(1, true);
    record.record(2.0, 4);
    record.record(5.0, 2);
    input.measured = html_report_input::basis::line;
    input.wall_seconds = 10;
    input.concurrency = &record;
  }
};

} // namespace

TEST_CASE("apply report: step points hold each limit until the next, the last to the end") {
  using points = std::vector<std::pair<double, double>>;
  CHECK(svg::step_points({{0, 1}, {2, 4}, {5, 2}}, 10) ==
        points{{0, 1}, {2, 1}, {2, 4}, {5, 4}, {5, 2}, {10, 2}});
  CHECK(svg::step_points({{0, 16}}, 3) == points{{0, 16}, {3, 16}});
  // An end at (or before) the last point adds nothing past it.
  CHECK(svg::step_points({{0, 1}, {2, 4}}, 2) == points{{0, 1}, {2, 1}, {2, 4}});
  CHECK(svg::step_points({}, 5).empty());
}

TEST_CASE("apply report: the limit's step chart has its corners at the right coordinates") {
  limit_run run;
  std::string html = render_html_report(run.input);
  CHECK(check_well_formed(html) == "");
  std::string svg = chart_labelled(html, limit_chart);
  REQUIRE_FALSE(svg.empty());
  // x: 0 to the run's 10 s across the plot; y: 0 to 5 (a round number above the max, 4).
  double width = svg::chart_width - svg::margin_left - svg::margin_right;
  double height = svg::chart_height - svg::margin_top - svg::margin_bottom;
  auto x = [&](double s) { return svg::number(svg::margin_left + s / 10 * width, 1); };
  auto y = [&](double limit) {
    return svg::number(svg::margin_top + height - limit / 5 * height, 1);
  };
  std::string expected = "M" + x(0) + " " + y(1) + " L" + x(2) + " " + y(1) + " L" + x(2) + " " +
                         y(4) + " L" + x(5) + " " + y(4) + " L" + x(5) + " " + y(2) + " L" + x(10) +
                         " " + y(2);
  CHECK(series_path(svg) == expected);
  CHECK(expected == "M78.0 220.8 L245.6 220.8 L245.6 67.2 L497.0 67.2 L497.0 169.6 L916.0 169.6");
  // Whole-number limits on the y axis, time on the x axis to the end of the run.
  for (const char* tick : {">0<", ">1<", ">4<", ">5<", ">10 s<"})
    CHECK(svg.find(tick) != std::string::npos);
  CHECK(svg.find(">0.5<") == std::string::npos);
  // The area under the line closes at the bottom of the plot.
  CHECK(svg.find("class=\"area\"") != std::string::npos);
}

TEST_CASE("apply report: the caption says the mode and the final, least and greatest limit") {
  limit_run run;
  std::string html = render_html_report(run.input);
  CHECK(html.find("<h2>Requests in flight</h2>") != std::string::npos);
  CHECK(html.find("mode auto (it adapts to the server&#39;s latency): final 2, min 1, max 4.") !=
        std::string::npos);

  concurrency_record fixed;
  fixed.start(16, false);
  run.input.concurrency = &fixed;
  html = render_html_report(run.input);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("mode fixed: final 16, min 16, max 16.") != std::string::npos);
  // One flat line across the whole run.
  CHECK(series_path(chart_labelled(html, limit_chart)).find(" L916.0 ") != std::string::npos);
  CHECK(html.find("operator") == std::string::npos); // no changes: no table, no legend entry
}

TEST_CASE("apply report: the operator's changes are listed, numbered as markers, escaped") {
  limit_run run;
  run.record.record_change(3.5, "rate 400");
  run.record.record_change(7.25, "<b>connections</b> & 'auto'");
  std::string html = render_html_report(run.input);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("<h3>The operator's changes (--control)</h3>") != std::string::npos);
  CHECK(html.find("<tr><td>1</td><td>3.50 s</td><td>rate 400</td></tr>") != std::string::npos);
  CHECK(html.find("<tr><td>2</td><td>7.25 s</td><td>&lt;b&gt;connections&lt;/b&gt; &amp; "
                  "&#39;auto&#39;</td></tr>") != std::string::npos);
  CHECK(html.find("<b>connections") == std::string::npos);
  // A dashed marker per change in the chart, its tooltip escaped too.
  std::string svg = chart_labelled(html, limit_chart);
  CHECK(occurrences(svg, "<g class=\"marker\">") == 2);
  CHECK(svg.find("<title>7.25 s: &lt;b&gt;connections") != std::string::npos);
  double width = svg::chart_width - svg::margin_left - svg::margin_right;
  CHECK(svg.find("x1=\"" + svg::number(svg::margin_left + 3.5 / 10 * width, 1) + "\"") !=
        std::string::npos);
  CHECK(html.find("an operator&#39;s change (numbered as below)") != std::string::npos);

  // Changes at (about) one time share a marker, both numbers on it.
  run.record.record_change(7.3, "resume");
  svg = chart_labelled(render_html_report(run.input), limit_chart);
  CHECK(occurrences(svg, "<g class=\"marker\">") == 2);
  CHECK(svg.find(">2–3</text>") != std::string::npos);
  CHECK(svg.find("&#39;auto&#39;\n7.30 s: resume</title>") != std::string::npos);

  // Past max_changes the rest are counted, and the report says so.
  for (std::size_t i = 0; i < concurrency_record::max_changes; ++i)
    run.record.record_change(8, "pause");
  html = render_html_report(run.input);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("3 later changes are not listed (the first 256 are).") != std::string::npos);
}

TEST_CASE("apply report: no concurrency record, no section, and an empty one says so") {
  limit_run run;
  run.input.concurrency = nullptr;
  std::string html = render_html_report(run.input);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("Requests in flight") == std::string::npos);
  CHECK(chart_labelled(html, limit_chart).empty());
  // A run refused before it started has a record with no series.
  concurrency_record never_started;
  run.input.concurrency = &never_started;
  html = render_html_report(run.input);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("No limit was recorded: the run sent nothing.") != std::string::npos);
  CHECK(chart_labelled(html, limit_chart).empty());
}

TEST_CASE("apply report: a run of 50 ms gets time ticks it can tell apart") {
  limit_run run;
  run.record.start(1, true);
  run.record.record(0.02, 2);
  run.input.wall_seconds = 0.05;
  std::string svg = chart_labelled(render_html_report(run.input), limit_chart);
  for (const char* tick : {">0 s<", ">0.01 s<", ">0.02 s<", ">0.05 s<"})
    CHECK(svg.find(tick) != std::string::npos);
}

TEST_CASE("apply report: a run's report has no schedule, lateness, gates or time series") {
  run_statistics stats;
  stats.concurrency().start(1, true);
  stats.concurrency().record(0.5, 8);
  stats.record_attempt(op_kind::configs, attempt_outcome::http(503), 5ms);
  stats.record_attempt(op_kind::configs, attempt_outcome::success(200), 3ms);
  stats.record_outcome(op_kind::configs, outcome::ok, 2, 120ms);
  stats.record_attempt(op_kind::jobname, attempt_outcome::failure(error_class::timeout), 30ms);
  stats.record_attempt(op_kind::jobname, attempt_outcome::http(404), 2ms);
  stats.record_outcome(op_kind::jobname, outcome::failed, 2, 40ms);
  stats.record_failure_reason("HTTP 404 <Not Found>");
  stats.record_invalid(op_kind::params);
  run_status status;
  status.wall_seconds = 2;
  status.not_attempted = 3;
  html_report_input in = apply_report_input(stats, status, 1);
  in.settings = {{"base URL", "https://api.example.com"}, {"connections", "auto:64"}};
  std::string html = render_html_report(in);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("<title>jobpatch apply report</title>") != std::string::npos);
  CHECK(html.find("exit code 1: some lines failed, were invalid or were not sent") !=
        std::string::npos);
  // Bench's parts are not there.
  for (std::string bench_only :
       {"intended", "schedule", "started late", "Late requests", "Over time", "Gates",
        "Compared with the baseline", "coordinated omission", "Throughput"})
    CHECK_MESSAGE(html.find(bench_only) == std::string::npos, bench_only);
  // The counts: 6 lines (1 ok, 1 failed, 1 invalid, 3 not sent), 4 attempts, 2 retries.
  CHECK(html.find(">Lines</div><div class=\"value\">6<") != std::string::npos);
  CHECK(html.find(">Failed</div><div class=\"value\">1<") != std::string::npos);
  CHECK(html.find(">Invalid</div><div class=\"value\">1<") != std::string::npos);
  CHECK(html.find(">Not sent</div><div class=\"value\">3<") != std::string::npos);
  CHECK(html.find(">Attempts</div><div class=\"value\">4<") != std::string::npos);
  CHECK(html.find(">Attempts/s</div><div class=\"value\">2.0<") != std::string::npos);
  CHECK(html.find("In doubt") == std::string::npos); // none
  // Per line and per attempt latencies, in apply's words.
  CHECK(html.find("Latency per line (first send to final answer)") != std::string::npos);
  CHECK(html.find("<th>endpoint</th><th>lines</th>") != std::string::npos);
  CHECK(html.find(">all lines<") != std::string::npos);
  CHECK(html.find("Service time per attempt") != std::string::npos);
  // Answers and why lines failed, escaped.
  for (std::string answer : {"HTTP 503", "HTTP 404", ">timed out<"})
    CHECK_MESSAGE(html.find(answer) != std::string::npos, answer);
  CHECK(html.find("<h2>Why lines failed</h2>") != std::string::npos);
  CHECK(html.find("<tr><th>HTTP 404 &lt;Not Found&gt;</th><td>1</td></tr>") != std::string::npos);
  // And the limit's chart, from the run's own record.
  CHECK_FALSE(chart_labelled(html, limit_chart).empty());
  CHECK(html.find("final 8, min 1, max 8") != std::string::npos);
}

TEST_CASE("apply report: how the run ended, in one line") {
  run_status status;
  CHECK(run_ending_text(status, 0) == "exit code 0: every line applied");
  status.signal = SIGTERM;
  CHECK(run_ending_text(status, 143) == "exit code 143: stopped by SIGTERM");
  status.signal = SIGINT;
  status.aborted = true;
  status.abort_reason = "second signal: leaving at once";
  CHECK(run_ending_text(status, 130) ==
        "exit code 130: stopped by SIGINT (second signal: leaving at once)");
  run_status refused;
  refused.aborted = true;
  refused.abort_reason = "r.ndjson already holds results";
  CHECK(run_ending_text(refused, 2) ==
        "exit code 2: refused before anything was sent (r.ndjson already holds results)");
  refused.abort_reason = "authentication failed";
  CHECK(run_ending_text(refused, 3) == "exit code 3: aborted (authentication failed)");
  run_status late;
  late.deadline_exceeded = true;
  CHECK(run_ending_text(late, 1) == "exit code 1: stopped at the --deadline");
  CHECK(run_ending_text(run_status{}, 4) == "exit code 4: an output could not be written");
}

TEST_CASE("apply report: a base URL's user, password, query and fragment are not shown") {
  CHECK(shown_base_url("https://api.bytenite.com") == "https://api.bytenite.com");
  CHECK(shown_base_url("https://localhost:8443/v1") == "https://localhost:8443/v1");
  CHECK(shown_base_url("https://user:secret@api.example.com:8443/v1?key=abc#frag") ==
        "https://[redacted]@api.example.com:8443/v1?[redacted]#[redacted]");
  CHECK(shown_base_url("not a url") == "[not a URL]");
}
