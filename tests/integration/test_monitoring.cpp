// What an operator watches: the progress line (--progress) and the Prometheus metrics
// file (--metrics-file), during and after a run against jobpatch-mock.

#include "apply_runner.hpp"

#include <doctest/doctest.h>

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
  child_process run({JOBPATCH_BIN, "apply", manifest, "--base-url",
                     "https://localhost:" + std::to_string(mock.port()), "--cacert", mock.cert(),
                     "--connections", "2", "--metrics-file", metrics, "--metrics-interval", "1"},
                    {{"BYTENITE_API_KEY", mock_test_key}}, mock.path("apply.out"),
                    mock.path("apply.err"));
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
