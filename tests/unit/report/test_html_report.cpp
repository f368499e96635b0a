#include <jobpatch/report/bench_statistics.hpp>
#include <jobpatch/report/html_report.hpp>

#include "../../html_well_formed.hpp"

#include <doctest/doctest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace jobpatch;
using namespace std::chrono_literals;
using jobpatch::test::check_well_formed;
using jobpatch::test::occurrences;

namespace {

// Realistic sample data: three endpoints, a 60 s run at ~400/s with a slow patch at 30 s.
struct sample_run {
  latency_histogram all, service;
  latency_histogram by_op[3];
  time_series timeline{1s, 3600};
  html_report_input input;

  sample_run() {
    std::mt19937_64 rng(7);
    const char* names[] = {"configs", "jobname", "params"};
    double medians[] = {2.5e6, 1.8e6, 4e6};
    for (int i = 0; i < 24000; ++i) {
      int op = i % 3;
      double t = i / 400.0;
      std::lognormal_distribution<double> dist(std::log(medians[op] * (t > 30 && t < 33 ? 8 : 1)),
                                               0.5);
      auto latency = std::chrono::nanoseconds(static_cast<std::int64_t>(dist(rng)));
      bool ok = (i % 97) != 0;
      all.record(latency);
      service.record(latency * 9 / 10);
      by_op[op].record(latency);
      timeline.record(std::chrono::nanoseconds(static_cast<std::int64_t>(t * 1e9)) + latency,
                      latency, ok);
    }
    input.generated_at = "2024-05-01 12:00:00 UTC";
    input.settings = {{"base URL", "https://api.bytenite.com"},
                      {"rate", "400/s"},
                      {"duration", "60 s"},
                      {"connections", "16"},
                      {"manifest", "jobs <test>.ndjson"}};
    input.requests = 24000;
    input.ok = 24000 - 248;
    input.failed = 248;
    input.wall_seconds = 60.02;
    input.requests_per_second = 399.9;
    input.latency = &all;
    input.service_time = &service;
    for (int op = 0; op < 3; ++op) input.endpoints.push_back({names[op], &by_op[op]});
    input.status_counts = {{200, 23752}, {429, 40}, {503, 180}};
    input.error_counts = {{"timeout", 20}, {"connection reset", 8}};
    input.late_requests = 12;
    input.max_lateness = 3400us;
    input.timeline = &timeline;
  }
};

} // namespace

TEST_CASE("html_report: html_escape and format_latency") {
  CHECK(html_escape(R"(<a href="x">Tom & 'Jerry'</a>)") ==
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  CHECK(html_escape("plain") == "plain");
  CHECK(format_latency(850ns) == "850 ns");
  CHECK(format_latency(12300ns) == "12.3 µs");
  CHECK(format_latency(3210us) == "3.21 ms");
  CHECK(format_latency(45670us) == "45.7 ms");
  CHECK(format_latency(999700ns) == "1.00 ms");
  CHECK(format_latency(1500ms) == "1.50 s");
  CHECK(format_latency(0ns) == "0 ns");
}

TEST_CASE("html_report: the checker itself catches broken markup") {
  CHECK(check_well_formed("<p><b>x</b></p>").empty());
  CHECK(check_well_formed("<meta charset=\"utf-8\"><br><svg><path d=\"M1 2\"/></svg>").empty());
  CHECK_FALSE(check_well_formed("<p><b>x</p></b>").empty());
  CHECK_FALSE(check_well_formed("<p>").empty());
  CHECK_FALSE(check_well_formed("<p class=\"x>y</p>").empty());
  CHECK_FALSE(check_well_formed("<p>a > b</p>").empty());
}

TEST_CASE("html_report: a full report is well-formed, self-contained and shows the figures") {
  sample_run run;
  std::string html = render_html_report(run.input);
  CHECK(check_well_formed(html) == "");
  CHECK(html.starts_with("<!DOCTYPE html>"));
  // Self-contained: no scripts, no external resources.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg"));
  CHECK(html.find("<link") == std::string::npos);
  // One <svg> per chart: percentiles, two histograms, throughput, latency over time, breakdown.
  CHECK(occurrences(html, "<svg") == 6);
  CHECK(occurrences(html, "</svg>") == 6);
  // Summary figures as text, formatted as in the summary.
  CHECK(html.find(format_latency(run.all.percentile(0.99))) != std::string::npos);
  CHECK(html.find(format_latency(run.all.percentile(0.9999))) != std::string::npos);
  CHECK(html.find(format_latency(run.all.max())) != std::string::npos);
  CHECK(html.find(">p99.9<") != std::string::npos);
  CHECK(html.find(">24,000<") != std::string::npos);
  CHECK(html.find(">248<") != std::string::npos);
  CHECK(html.find("399.9") == std::string::npos); // >= 100/s shows whole numbers
  CHECK(html.find(">400<") != std::string::npos);
  // Settings, escaped.
  CHECK(html.find("jobs &lt;test&gt;.ndjson") != std::string::npos);
  CHECK(html.find("jobs <test>") == std::string::npos);
  // Endpoints in the legend and the table; statuses and errors in the breakdown.
  for (const char* name :
       {"configs", "jobname", "params", "HTTP 503", "timeout", "connection reset"})
    CHECK(html.find(name) != std::string::npos);
  CHECK(html.find("12 requests started late") != std::string::npos);
  CHECK(html.find("3.40 ms") != std::string::npos);
  // Percentile axis labels of the HDR-style curve.
  for (const char* tick : {">0%<", ">90%<", ">99%<", ">99.9%<", ">99.99%<"})
    CHECK(html.find(tick) != std::string::npos);

  if (const char* path = std::getenv("JOBPATCH_REPORT_SAMPLE")) {
    std::ofstream(path) << html; // for scripts/render_report.sh and a person's eyes
  }
}

TEST_CASE("html_report: an empty run still renders a valid page") {
  html_report_input in;
  in.title = "Empty <run>";
  time_series empty; // bench always gives its series, empty or not
  in.timeline = &empty;
  std::string html = render_html_report(in);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("<title>Empty &lt;run&gt;</title>") != std::string::npos);
  CHECK(html.find("No latencies were recorded.") != std::string::npos);
  CHECK(html.find("No time series was recorded.") != std::string::npos);
  CHECK(html.find("<svg") == std::string::npos);
  // No series at all (apply's report): the section is left out.
  in.timeline = nullptr;
  html = render_html_report(in);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("Over time") == std::string::npos);
  latency_histogram one;
  one.record(5ms);
  time_series ts;
  ts.record(0s, 5ms, true);
  in.latency = &one;
  in.timeline = &ts;
  in.wall_seconds = 1;
  in.status_counts = {{200, 1}};
  html = render_html_report(in);
  CHECK(check_well_formed(html) == "");
  CHECK(occurrences(html, "<svg") == 5); // percentile, histogram, throughput, latency, breakdown
}

TEST_CASE("html_report: hostile names are escaped everywhere") {
  latency_histogram h;
  h.record(1ms);
  html_report_input in;
  in.endpoints = {{"<script>alert('x')</script>", &h}};
  in.latency = &h;
  in.error_counts = {{"\"quoted\" & <odd>", 3}};
  in.settings = {{"k'ey", "v\"al"}};
  std::string html = render_html_report(in);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(&#39;x&#39;)") != std::string::npos);
  CHECK(html.find("&quot;quoted&quot; &amp; &lt;odd&gt;") != std::string::npos);
}

TEST_CASE("html_report: retries, attempt counts, the intended rate, and no drop at the end") {
  sample_run run;
  run.input.attempts = 24300;
  run.input.retries = 300;
  run.input.intended_rate_start = run.input.intended_rate_end = 400;
  run.input.duration_seconds = 60;
  run.input.wall_seconds = 60.5; // the last 1 s interval is half covered
  run.input.late_start_note = "12 of 24000 requests started late (max 3.40 ms, mean 2.00 ms)";
  std::string html = render_html_report(run.input);
  CHECK(check_well_formed(html) == "");
  CHECK(html.find(">Retries</div><div class=\"value\">300<") != std::string::npos);
  CHECK(html.find(">Attempts</div><div class=\"value\">24,300<") != std::string::npos);
  CHECK(html.find("<th>answer</th><th>attempts</th>") != std::string::npos);
  CHECK(html.find("Counted per attempt") != std::string::npos);
  CHECK(html.find("service time, per attempt (count: attempts)") != std::string::npos);
  CHECK(html.find("intended rate (the schedule)") != std::string::npos);
  CHECK(html.find("stroke=\"#555555\" stroke-dasharray") != std::string::npos);
  CHECK(html.find("Latency from intended send time, by completion time") != std::string::npos);
  CHECK(html.find("The last interval, cut short by the end of the run") != std::string::npos);
  // The late-start words are the ones given (the text summary's), not the report's own.
  CHECK(html.find("<strong>12 of 24000 requests started late (max 3.40 ms, mean 2.00 ms).") !=
        std::string::npos);
}

TEST_CASE("html_report: the late-start explanation is the text summary's") {
  bench_statistics stats(100ms);
  stats.record_start(5ms);
  stats.record_start(0ms);
  stats.record_attempt(op_kind::configs, attempt_outcome::success(200), 1ms);
  stats.record_operation(op_kind::configs, true, 1, 6ms, 6ms);
  bench_run_info info;
  info.scheduled = 2;
  info.duration_seconds = info.wall_seconds = 1;
  auto sentence = stats.late_start_text();
  CHECK(sentence.starts_with("1 of 2 requests started late"));
  CHECK(stats.summary_text(info).find(sentence + "\n") != std::string::npos);
  auto html = render_html_report(stats.report_input(info));
  CHECK(html.find(html_escape(sentence)) != std::string::npos);
}
