// What an operator watches: the progress line (--progress) and the Prometheus metrics
// file (--metrics-file), during and after a run against jobpatch-mock.

#include "apply_runner.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <ctime>
#include <regex>
#include <set>

#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

using namespace jobpatch::test;

namespace {

// "name{labels} value" lines of a text exposition, keyed by everything before the value.
std::map<std::string, double> read_samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

} // namespace

TEST_CASE("progress: no progress line when stderr is not a terminal, one redrawn line with "
          "--progress always") {
  mock_process mock({}, 100);
  auto manifest = make_manifest(mock, "m.ndjson", 2000, 100, 5);
  REQUIRE(run_apply(mock, manifest, {"--connections", "4"}) == 0);
  std::string quiet = read_file(mock.path("apply.err"));
  CHECK(quiet.find('\r') == std::string::npos);
  CHECK(quiet.find("\x1b[") == std::string::npos);

  REQUIRE(run_apply(mock, manifest,
                    {"--connections", "4", "--rate", "2000", "--progress", "always"}) == 0);
  std::string shown = read_file(mock.path("apply.err"));
  CHECK(shown.find("\r") != std::string::npos);
  CHECK(shown.find("/2000 ") != std::string::npos); // done/total
  CHECK(shown.find("2000/2000 100.0%") != std::string::npos);
  // The line is erased before the summary, which starts on a clean line.
  CHECK(shown.find("\r\x1b[K2000 lines: 2000 ok") != std::string::npos);
}

TEST_CASE("metrics file: in progress during the run, final counts and exit code at the end") {
  mock_process mock({"--latency-ms", "2"}, 200);
  auto manifest = make_manifest(mock, "m.ndjson", 3000, 200, 6);
  std::string metrics = mock.path("jobpatch.prom");
  child_process run(
      jobpatch_argv(mock, "apply", manifest,
                    {"--connections", "2", "--metrics-file", metrics, "--metrics-interval", "1"}),
      {{"BYTENITE_API_KEY", mock_test_key}}, mock.path("apply.out"), mock.path("apply.err"));
  // ~3000 requests at ~2 ms over 2 connections: about 3 s, long enough to see a mid-run file.
  std::map<std::string, double> during;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (run.running() && std::chrono::steady_clock::now() < until) {
    std::error_code ec;
    if (std::filesystem::exists(metrics, ec)) {
      auto samples = read_samples(read_file(metrics));
      if (samples["jobpatch_run_in_progress"] == 1 &&
          samples["jobpatch_lines_total{outcome=\"ok\"}"] > 0) {
        during = samples;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(run.wait(std::chrono::seconds(60)) == 0);
  INFO(read_file(mock.path("apply.err")));
  REQUIRE_FALSE(during.empty());
  CHECK(during["jobpatch_lines_total{outcome=\"ok\"}"] < 3000);
  CHECK(during.count("jobpatch_exit_code") == 0);

  auto text = read_file(metrics);
  auto after = read_samples(text);
  CHECK(after["jobpatch_run_in_progress"] == 0);
  CHECK(after["jobpatch_exit_code"] == 0);
  CHECK(after["jobpatch_lines_total{outcome=\"ok\"}"] == 3000);
  CHECK(after["jobpatch_lines_total{outcome=\"failed\"}"] == 0);
  CHECK(after["jobpatch_attempts_total"] == 3000);
  CHECK(after["jobpatch_requests_total{status=\"200\"}"] == 3000);
  CHECK(after["jobpatch_request_duration_seconds_count"] == 3000);
  CHECK(after["jobpatch_request_duration_seconds{quantile=\"0.5\"}"] > 0.001);
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(after["jobpatch_last_success_timestamp_seconds"] > now - 60);
  CHECK(after["jobpatch_last_success_timestamp_seconds"] <= now);
  CHECK(text.find(mock_test_key) == std::string::npos);
  // Replaced atomically: no temporary file is left next to it.
  for (const auto& entry : std::filesystem::directory_iterator(mock.path("")))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("metrics file: records carry ts and runId, summary and metrics the same runId, and "
          "two shards' metrics never define the same series") {
  mock_process mock({}, 10);
  std::string text;
  for (int i = 1; i <= 10; ++i)
    text += R"({"jobId":"job-00000)" + std::string(i < 10 ? "0" : "") + std::to_string(i) +
            R"(","op":"configs","body":{"taskTimeout":)" + std::to_string(100 + i) + "}}\n";
  // An update the mock refuses (400: an ftp data source), then its job's next one withheld.
  text +=
      R"({"jobId":"job-0000010","op":"datasource","body":{"dataSource":{"dataSourceDescriptor":"ftp","params":{}}}})"
      "\n"
      R"({"jobId":"job-0000010","op":"jobname","body":"after"})"
      "\n";
  std::string manifest = mock.path("m.ndjson");
  write_file(manifest, text);
  auto now = [] { return std::time(nullptr); };
  std::time_t start = now() - 1;
  std::map<std::string, double> shard_samples[2];
  std::string run_ids[2];
  std::uint64_t withheld = 0, refused = 0, lines = 0;
  for (int k = 1; k <= 2; ++k) {
    std::string shard = std::to_string(k) + "/2", n = std::to_string(k);
    std::string results = mock.path("r" + n), metrics = mock.path("m" + n + ".prom"),
                summary = mock.path("s" + n);
    int code = run_apply(mock, manifest,
                         {"--shard", shard, "--results", results, "--metrics-file", metrics,
                          "--summary-json", summary});
    INFO(read_file(mock.path("apply.err")));
    CHECK((code == 0 || code == 1));
    std::time_t end = now() + 1;
    auto s = boost::json::parse(read_file(summary)).as_object();
    std::string run_id(s.at("runId").as_string());
    CHECK(std::regex_match(run_id, std::regex("[0-9a-f]{16}")));
    run_ids[k - 1] = run_id;
    for (const auto& line : read_lines(results)) {
      auto r = boost::json::parse(line).as_object();
      CHECK(r.at("runId").as_string() == run_id);
      std::string ts(r.at("ts").as_string());
      REQUIRE(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
      std::tm tm{};
      ::strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
      std::time_t t = ::timegm(&tm);
      CHECK(t >= start);
      CHECK(t <= end);
      ++lines;
    }
    auto samples = read_samples(read_file(metrics));
    CHECK(samples["jobpatch_run_info{shard=\"" + shard + "\",run_id=\"" + run_id + "\"}"] == 1);
    for (const auto& [series, value] : samples)
      CHECK_MESSAGE(series.find("{shard=\"" + shard + "\"") != std::string::npos, series);
    withheld += static_cast<std::uint64_t>(
        samples["jobpatch_failed_lines_total{shard=\"" + shard + "\",reason=\"withheld\"}"]);
    refused += static_cast<std::uint64_t>(samples["jobpatch_failed_lines_total{shard=\"" + shard +
                                                  "\",reason=\"http_400_bad_request\"}"]);
    shard_samples[k - 1] = std::move(samples);
  }
  CHECK(lines == 12);
  CHECK(withheld == 1);
  CHECK(refused == 1);
  CHECK(run_ids[0] != run_ids[1]);
  for (const auto& [series, value] : shard_samples[0])
    CHECK_MESSAGE(shard_samples[1].count(series) == 0, series);
}
