// Every way an apply run ends goes through one exit path (issue 25): the summary JSON and
// the metrics file say how it ended, with the exit code, whether the run finished, was
// refused before sending, aborted, lost an output, or was stopped by one or two signals;
// and its counts agree with the records. Each case failed before that path existed.

#include "apply_runner.hpp"
#include "last_words.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> outputs(const mock_process& mock) {
  return {"--results",      mock.path("r.ndjson"), "--summary-json", mock.path("s.json"),
          "--metrics-file", mock.path("m.prom"),   "--progress",     "never"};
}

std::string jobname_lines(const std::string& prefix, int n) {
  std::string out;
  for (int i = 1; i <= n; ++i)
    out += R"({"jobId":")" + prefix + std::to_string(i) + R"(","op":"jobname","body":"n"})" + "\n";
  return out;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

} // namespace

TEST_CASE("exit paths: a host that does not resolve leaves its summary and metrics, exit 3") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  auto args = outputs(mock);
  args.insert(args.end(), {"--failed-out", mock.path("f.ndjson")});
  std::vector<std::string> argv = {JOBPATCH_BIN, "apply", manifest, "--base-url",
                                   "https://no-such-host.invalid"};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process run(argv, {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path("err"));
  REQUIRE(run.wait(60s) == 3);
  std::string err = read_file(mock.path("err"));
  INFO(err);
  check_last_words(mock, 3);
  auto summary = summary_of(mock.path("s.json"));
  CHECK(summary.at("aborted").as_bool());
  CHECK(std::string(summary.at("abortReason").as_string()).find("cannot resolve") !=
        std::string::npos);
  // The headline counts the lines never sent; the failed-lines file holds them all.
  CHECK(err.find("20 lines: 0 ok, 0 failed, 0 invalid, 0 skipped, 20 not sent;") !=
        std::string::npos);
  CHECK(read_lines(mock.path("f.ndjson")).size() == 20);
}

TEST_CASE("exit paths: a refusal before sending leaves a summary and metrics with exit 2") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  write_file(mock.path("r.ndjson"), "{\"line\":1,\"outcome\":\"ok\"}\n");
  SUBCASE("results already there") {
    CHECK(run_apply(mock, manifest, outputs(mock)) == 2);
    check_last_words(mock, 2);
    CHECK(std::string(summary_of(mock.path("s.json")).at("abortReason").as_string())
              .find("already holds results") != std::string::npos);
  }
  SUBCASE("no API key") {
    CHECK(run_apply(mock, manifest, outputs(mock), "") == 2);
    check_last_words(mock, 2);
  }
  SUBCASE("a summary path that is the manifest is refused and nothing is written") {
    std::string before = read_file(manifest);
    auto args = outputs(mock);
    args[3] = manifest;
    CHECK(run_apply(mock, manifest, args) == 2);
    CHECK(read_file(manifest) == before);
    CHECK(read_file(mock.path("m.prom")).empty());
  }
  CHECK(mock.stats().at("applied").as_int64() == 0);
}

TEST_CASE("exit paths: a metrics file that cannot be written after sending began is exit 4") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  auto args = outputs(mock);
  args[5] = "/dev/full";
  CHECK(run_apply(mock, manifest, args) == 4);
  std::string err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(err.find("--metrics-file /dev/full could not be written") != std::string::npos);
  CHECK(summary_of(mock.path("s.json")).at("exitCode").as_int64() == 4);
  CHECK(mock.stats().at("applied").as_int64() == 20);
}

// A worker's exception is caught by the engine and aborts the run (this held before the
// one exit path too; kept as the path's abort case).
TEST_CASE("exit paths: a worker's exception aborts the run, its summary and metrics say 3") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 40, 20);
  child_process run(
      jobpatch_argv(mock, "apply", manifest, outputs(mock)),
      {{"BYTENITE_API_KEY", mock_test_key}, {"JOBPATCH_TEST_WORKER_THROW_AFTER", "5"}}, "",
      mock.path("err"));
  REQUIRE(run.wait(60s) == 3);
  INFO(read_file(mock.path("err")));
  check_last_words(mock, 3);
  CHECK(summary_of(mock.path("s.json")).at("aborted").as_bool());
}

TEST_CASE("exit paths: a second signal leaves at once, its summary and metrics say 130") {
  mock_process mock({"--latency-ms", "300"}, 50);
  auto manifest = make_manifest(mock, "m.ndjson", 50, 50);
  auto args = outputs(mock);
  args.insert(args.end(), {"--connections", "4"});
  child_process run(jobpatch_argv(mock, "apply", manifest, args),
                    {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path("err"));
  // The first answers recorded: requests are in flight behind them.
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 4, run, 60s) >= 4);
  run.signal(SIGINT);
  REQUIRE(wait_signal_taken(run.pid(), SIGINT, 10s));
  run.signal(SIGINT); // leave at once: the answers are 300 ms away
  int code = run.wait(60s);
  REQUIRE(code == 130);
  std::string err = read_file(mock.path("err"));
  INFO(err);
  CHECK(err.find("second signal: leaving at once") != std::string::npos);
  check_last_words(mock, 130);
  auto summary = summary_of(mock.path("s.json"));
  CHECK(std::string(summary.at("abortReason").as_string()).find("second signal") !=
        std::string::npos);
  CHECK(static_cast<std::size_t>(summary.at("total").as_int64()) ==
        read_lines(mock.path("r.ndjson")).size());
}

TEST_CASE("exit paths: byError counts what the records say when answers arrive after SIGINT") {
  // Every job is unknown: each line ends 404. Answers take 300 ms, so a SIGINT after the
  // first four records finds four more in flight, answered 404 during the grace period.
  mock_process mock({"--latency-ms", "300"}, 1);
  write_file(mock.path("m.ndjson"), jobname_lines("no-such-job-", 40));
  auto args = outputs(mock);
  args.insert(args.end(), {"--connections", "4"});
  child_process run(jobpatch_argv(mock, "apply", mock.path("m.ndjson"), args),
                    {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path("err"));
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 4, run, 60s) >= 4);
  run.signal(SIGINT);
  REQUIRE(run.wait(60s) == 130);
  std::string err = read_file(mock.path("err"));
  INFO(err);
  std::size_t recorded_404 = 0;
  for (const auto& line : read_lines(mock.path("r.ndjson"))) {
    auto record = json::parse(line).as_object();
    if (record.contains("status") && record.at("status").as_int64() == 404) ++recorded_404;
  }
  CHECK(recorded_404 >= 8); // the four in flight at the signal too
  auto by_error = summary_of(mock.path("s.json")).at("byError").as_object();
  CHECK(by_error.size() == 1);
  REQUIRE(by_error.contains("HTTP 404 Not Found"));
  CHECK(static_cast<std::size_t>(by_error.at("HTTP 404 Not Found").as_int64()) == recorded_404);
  CHECK(err.find("interrupted before") == std::string::npos);
}

TEST_CASE("exit paths: last success is this run's end when it succeeds, else carried over") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  REQUIRE(run_apply(mock, manifest, outputs(mock)) == 0);
  double first = samples_of(mock.path("m.prom"))["jobpatch_last_success_timestamp_seconds"];
  CHECK(first > unix_now() - 600);
  // A nightly --resume with nothing left to do succeeds: its time, not 0.
  auto resume = outputs(mock);
  resume.push_back("--resume");
  REQUIRE(run_apply(mock, manifest, resume) == 0);
  double second = samples_of(mock.path("m.prom"))["jobpatch_last_success_timestamp_seconds"];
  CHECK(second >= first);
  CHECK(samples_of(mock.path("m.prom"))["jobpatch_lines_total{outcome=\"skipped\"}"] == 20);
  // A run that fails (a refused key) carries the last success over, as the file had it.
  write_file(mock.path("m.prom"), "jobpatch_last_success_timestamp_seconds 1000000000.5\n");
  auto again = outputs(mock);
  again.push_back("--force");
  REQUIRE(run_apply(mock, manifest, again, "wrong-key-0000") == 3);
  auto after = samples_of(mock.path("m.prom"));
  CHECK(after["jobpatch_exit_code"] == 3);
  CHECK(after["jobpatch_last_success_timestamp_seconds"] == 1000000000.5);
}
