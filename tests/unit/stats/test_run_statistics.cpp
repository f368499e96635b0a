#include <jobpatch/stats/run_statistics.hpp>
#include <jobpatch/text/json_writer.hpp>

#include <doctest/doctest.h>

using namespace jobpatch;
using std::chrono::milliseconds;

TEST_CASE("run_statistics: counts, retries and the summary JSON") {
  run_statistics stats;
  stats.record_attempt(op_kind::configs, attempt_outcome::http(503), milliseconds(5));
  stats.record_attempt(op_kind::configs, attempt_outcome::success(200), milliseconds(3));
  stats.record_outcome(op_kind::configs, outcome::ok, 2, milliseconds(120));
  stats.record_attempt(op_kind::jobname, attempt_outcome::failure(error_class::timeout),
                       milliseconds(30));
  stats.record_attempt(op_kind::jobname, attempt_outcome::http(404), milliseconds(2));
  stats.record_outcome(op_kind::jobname, outcome::failed, 2, milliseconds(40));
  stats.record_invalid(op_kind::params);
  stats.record_invalid(std::nullopt);

  CHECK(stats.total() == 4);
  CHECK(stats.count(outcome::ok) == 1);
  CHECK(stats.count(outcome::failed) == 1);
  CHECK(stats.count(outcome::invalid) == 2);
  CHECK(stats.attempts() == 4);
  CHECK(stats.retries() == 2);
  CHECK(stats.op_stats(op_kind::configs).attempts == 2);

  run_status status;
  status.wall_seconds = 2;
  std::string json = stats.summary_json(status, 1);
  CHECK(json.find(R"("total":4,"ok":1,"failed":1,"invalid":2,"skipped":0,)") == 1);
  CHECK(json.find(R"("attempts":4,"retries":2,)") != std::string::npos);
  CHECK(json.find(R"("byStatus":{"200":1,"404":1,"503":1})") != std::string::npos);
  CHECK(json.find(R"("byError":{},"errorsByClass":{"timeout":1})") != std::string::npos);
  CHECK(json.find(R"("requestsPerSecond":2,)") != std::string::npos);
  CHECK(json.find(R"("exitCode":1})") != std::string::npos);
  // Per-line latency: the 120 ms and 40 ms lines; max is exact.
  CHECK(json.find(R"("latencyMs":{"p50":40)") != std::string::npos);
  CHECK(json.find(R"("max":120,)") != std::string::npos);
  // A command's own members come before how the run ended.
  json = stats.summary_json(status, 1, [](json_writer& w) { w.number("mine", 7); });
  CHECK(json.find(R"("deadlineExceeded":false,"mine":7,"interrupted":false,)") !=
        std::string::npos);
}

TEST_CASE("run_statistics: the text summary names how the run ended") {
  run_statistics stats;
  run_status status;
  status.signal = 15;
  status.not_attempted = 7;
  std::string text = stats.summary_text(status);
  // The headline counts the lines never sent (issue 25: "0 lines: 0 ok" for 200 lines).
  CHECK(text.starts_with("7 lines: 0 ok, 0 failed, 0 invalid, 0 skipped, 7 not sent;"));
  CHECK(text.find("interrupted by signal 15") != std::string::npos);
  status = {};
  status.aborted = true;
  status.abort_reason = "aborting: the last 8 attempts all failed with: connection refused";
  CHECK(stats.summary_text(status).find("aborted: the last 8 attempts") != std::string::npos);
}
