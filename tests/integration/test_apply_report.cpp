// `apply --report FILE.html` (issue 27): the run's HTML report, with the requests allowed in
// flight as a step chart and the operator's changes, written on the one exit path beside
// the summary: when the run finishes, is stopped by a signal or a second one, is refused
// after preflight, and checked in preflight like the other outputs.

#include "../html_well_formed.hpp"
#include "apply_runner.hpp"
#include "last_words.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> outputs(const mock_process& mock) {
  return {"--results",      mock.path("r.ndjson"),
          "--summary-json", mock.path("s.json"),
          "--metrics-file", mock.path("m.prom"),
          "--report",       mock.path("R.html"),
          "--progress",     "never"};
}

child_process start_apply(const mock_process& mock, const std::string& manifest,
                          std::vector<std::string> extra) {
  auto args = outputs(mock);
  args.insert(args.end(), extra.begin(), extra.end());
  return child_process(jobpatch_argv(mock, "apply", manifest, std::move(args)),
                       {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path("apply.err"));
}

// `jobpatch control SOCKET words...`; its exit code.
int control(const mock_process& mock, const std::string& socket, std::vector<std::string> words) {
  std::vector<std::string> argv = {JOBPATCH_BIN, "control", socket};
  argv.insert(argv.end(), words.begin(), words.end());
  child_process run(argv, {}, mock.path("control.out"), mock.path("control.err"));
  return run.wait(30s);
}

// The report, read back and checked well formed.
std::string report_of(const mock_process& mock) {
  std::string html = read_file(mock.path("R.html"));
  REQUIRE_FALSE(html.empty());
  CHECK(check_well_formed(html) == "");
  CHECK(html.find("<title>jobpatch apply report</title>") != std::string::npos);
  // Shared freely: never the key.
  CHECK(html.find(mock_test_key) == std::string::npos);
  return html;
}

// "Label</div><div class="value">N<": a summary figure of the report.
bool shows_figure(const std::string& html, const std::string& label, std::uint64_t n) {
  std::string digits = std::to_string(n), text;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return html.find(">" + label + "</div><div class=\"value\">" + text + "<") != std::string::npos;
}

std::uint64_t count_in(const json::object& summary, const char* key) {
  return summary.at(key).to_number<std::uint64_t>();
}

constexpr const char* limit_chart = "aria-label=\"requests in flight allowed over time\"";

} // namespace

TEST_CASE("apply report: --connections auto, the limit's chart, the operator's changes, counts") {
  mock_process mock({"--capacity", "4", "--service-ms", "10", "--queue", "16"}, 500);
  const unsigned lines = 2000;
  auto manifest = make_manifest(mock, "m.ndjson", lines, 500);
  std::string socket = mock.path("control.sock");
  auto run = start_apply(mock, manifest, {"--connections", "auto", "--control", socket});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 100, run, 60s) >= 100);
  REQUIRE(run.running());
  REQUIRE(control(mock, socket, {"connections", "3"}) == 0);
  REQUIRE(control(mock, socket, {"connections", "auto"}) == 0);
  REQUIRE(run.wait(120s) == 0);
  check_last_words(mock, 0);
  auto summary = summary_of(mock.path("s.json"));
  std::string html = report_of(mock);
  CHECK(html.find("exit code 0: every line applied") != std::string::npos);
  // The counts, as the summary has them.
  CHECK(shows_figure(html, "Lines", lines));
  CHECK(shows_figure(html, "OK", count_in(summary, "ok")));
  CHECK(shows_figure(html, "Failed", 0));
  CHECK(shows_figure(html, "Not sent", 0));
  CHECK(shows_figure(html, "Attempts", count_in(summary, "attempts")));
  CHECK(html.find("HTTP 200") != std::string::npos);
  // The settings, and the limit's chart with the summary's figures in its caption.
  CHECK(html.find("<th>connections</th><td>auto:64</td>") != std::string::npos);
  CHECK(html.find("<th>base URL</th><td>https://localhost:" + std::to_string(mock.port())) !=
        std::string::npos);
  CHECK(html.find(limit_chart) != std::string::npos);
  auto concurrency = summary.at("concurrency").as_object();
  CHECK(html.find("mode auto (it adapts to the server&#39;s latency): final " +
                  std::to_string(count_in(concurrency, "final")) + ", min " +
                  std::to_string(count_in(concurrency, "min")) + ", max " +
                  std::to_string(count_in(concurrency, "max")) + ".") != std::string::npos);
  // The operator's two changes, in order, as markers and in the table.
  auto one = html.find("</td><td>connections 3</td></tr>");
  auto two = html.find("</td><td>connections auto</td></tr>");
  CHECK(one != std::string::npos);
  CHECK(two != std::string::npos);
  CHECK(one < two);
  CHECK(html.find("<g class=\"marker\"><title>") != std::string::npos);
  // No schedule, no time series: bench's parts are left out.
  CHECK(html.find("intended send time") == std::string::npos);
  CHECK(html.find("Over time") == std::string::npos);
}

TEST_CASE("apply report: a run stopped by SIGTERM leaves its report, exit 143") {
  mock_process mock({"--latency-ms", "5"}, 200);
  auto manifest = make_manifest(mock, "m.ndjson", 5000, 200);
  auto run = start_apply(mock, manifest, {"--connections", "4"});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 100, run, 60s) >= 100);
  REQUIRE(run.running());
  run.signal(SIGTERM);
  REQUIRE(run.wait(60s) == 143);
  check_last_words(mock, 143);
  auto summary = summary_of(mock.path("s.json"));
  std::string html = report_of(mock);
  INFO(read_file(mock.path("apply.err")));
  CHECK(html.find("exit code 143: stopped by SIGTERM") != std::string::npos);
  CHECK(shows_figure(html, "OK", count_in(summary, "ok")));
  CHECK(shows_figure(html, "Not sent", count_in(summary, "notAttempted")));
  CHECK(count_in(summary, "notAttempted") > 0);
  CHECK(html.find(limit_chart) != std::string::npos);
  CHECK(html.find("mode fixed: final 4, min 4, max 4.") != std::string::npos);
}

TEST_CASE("apply report: a second signal leaves at once with its report, exit 130") {
  mock_process mock({"--latency-ms", "300"}, 50);
  auto manifest = make_manifest(mock, "m.ndjson", 50, 50);
  auto run = start_apply(mock, manifest, {"--connections", "4"});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 4, run, 60s) >= 4);
  run.signal(SIGINT);
  REQUIRE(wait_signal_taken(run.pid(), SIGINT, 10s));
  run.signal(SIGINT); // leave at once: the answers are 300 ms away
  REQUIRE(run.wait(60s) == 130);
  check_last_words(mock, 130);
  std::string html = report_of(mock);
  INFO(read_file(mock.path("apply.err")));
  CHECK(html.find("exit code 130: stopped by SIGINT (second signal") != std::string::npos);
  CHECK(html.find(limit_chart) != std::string::npos);
}

TEST_CASE("apply report: a run refused after preflight leaves a report saying exit 2") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  write_file(mock.path("r.ndjson"), "{\"line\":1,\"outcome\":\"ok\"}\n");
  CHECK(run_apply(mock, manifest, outputs(mock)) == 2);
  check_last_words(mock, 2);
  std::string html = report_of(mock);
  CHECK(html.find("exit code 2: refused before anything was sent (") != std::string::npos);
  CHECK(html.find("already holds results") != std::string::npos);
  CHECK(html.find("No limit was recorded: the run sent nothing.") != std::string::npos);
  CHECK(mock.stats().at("applied").as_int64() == 0);
}

TEST_CASE("apply report: --report is checked in preflight like the other outputs") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  auto with_report = [&](const std::string& report) {
    auto args = outputs(mock);
    args[7] = report;
    return args;
  };
  SUBCASE("the summary's path") {
    CHECK(run_apply(mock, manifest, with_report(mock.path("s.json"))) == 2);
    std::string err = read_file(mock.path("apply.err"));
    CHECK(err.find("--report") != std::string::npos);
    CHECK(read_file(mock.path("s.json")).empty());
  }
  SUBCASE("the manifest") {
    std::string before = read_file(manifest);
    CHECK(run_apply(mock, manifest, with_report(manifest)) == 2);
    CHECK(read_file(manifest) == before);
  }
  SUBCASE("a directory that does not exist") {
    CHECK(run_apply(mock, manifest, with_report(mock.path("no/such/dir/R.html"))) == 2);
    CHECK(read_file(mock.path("apply.err")).find("--report") != std::string::npos);
  }
  // An output refused: none of the last words is written.
  CHECK(read_file(mock.path("m.prom")).empty());
  CHECK(mock.stats().at("applied").as_int64() == 0);
}

TEST_CASE("apply report: a report that cannot be written after sending began is exit 4") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  auto args = outputs(mock);
  args[7] = "/dev/full";
  CHECK(run_apply(mock, manifest, args) == 4);
  std::string err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(err.find("--report /dev/full could not be written") != std::string::npos);
  check_last_words(mock, 4);
  CHECK(mock.stats().at("applied").as_int64() == 20);
}
