#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/stats/metrics_file.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <unistd.h>

using namespace jobpatch;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh empty directory under the temp dir, removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("jobpatch-metrics-test-" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
};

} // namespace

TEST_CASE("metrics_file: exact exposition text for a small run") {
  metrics_snapshot m;
  m.lines_ok = 40;
  m.lines_failed = 2;
  m.lines_invalid = 1;
  m.lines_skipped = 7;
  m.lines_in_doubt = 1;
  m.attempts = 45;
  m.retries = 3;
  m.run_duration_seconds = 12.5;
  m.last_success_timestamp_seconds = 1712345678.25;
  m.in_progress = false;
  m.exit_code = 1;
  m.latency.quantiles = {{0.5, 0.0031}, {0.9, 0.008}, {0.99, 0.025}, {0.999, 0.1}};
  m.latency.sum_seconds = 0.21;
  m.latency.count = 42;
  m.requests_by_status = {{200, 40}, {503, 3}};
  m.errors_by_class = {{"timeout", 2}};
  CHECK(format_metrics(m) == R"(# HELP jobpatch_lines_total Manifest lines by final outcome.
# TYPE jobpatch_lines_total counter
jobpatch_lines_total{outcome="ok"} 40
jobpatch_lines_total{outcome="failed"} 2
jobpatch_lines_total{outcome="invalid"} 1
jobpatch_lines_total{outcome="skipped"} 7
jobpatch_lines_total{outcome="unchanged"} 0
# HELP jobpatch_lines_in_doubt_total Failed lines whose PATCH may have been applied (sent, then no usable answer).
# TYPE jobpatch_lines_in_doubt_total counter
jobpatch_lines_in_doubt_total 1
# HELP jobpatch_attempts_total HTTP requests sent, retries included.
# TYPE jobpatch_attempts_total counter
jobpatch_attempts_total 45
# HELP jobpatch_retries_total Requests that repeated an earlier attempt.
# TYPE jobpatch_retries_total counter
jobpatch_retries_total 3
# HELP jobpatch_run_duration_seconds Wall-clock time of the run so far.
# TYPE jobpatch_run_duration_seconds gauge
jobpatch_run_duration_seconds 12.5
# HELP jobpatch_last_success_timestamp_seconds Unix time of the last applied update (0 = none).
# TYPE jobpatch_last_success_timestamp_seconds gauge
jobpatch_last_success_timestamp_seconds 1712345678.25
# HELP jobpatch_run_in_progress 1 while a run is going, 0 once it has finished.
# TYPE jobpatch_run_in_progress gauge
jobpatch_run_in_progress 0
# HELP jobpatch_exit_code Exit code of the finished run (0 ok, 1 some failed, 2 usage, 3 aborted, 4 output not written).
# TYPE jobpatch_exit_code gauge
jobpatch_exit_code 1
# HELP jobpatch_request_duration_seconds Per-line latency, first send to final answer, retries included.
# TYPE jobpatch_request_duration_seconds summary
jobpatch_request_duration_seconds{quantile="0.5"} 0.0031
jobpatch_request_duration_seconds{quantile="0.9"} 0.008
jobpatch_request_duration_seconds{quantile="0.99"} 0.025
jobpatch_request_duration_seconds{quantile="0.999"} 0.1
jobpatch_request_duration_seconds_sum 0.21
jobpatch_request_duration_seconds_count 42
# HELP jobpatch_requests_total HTTP answers by status code.
# TYPE jobpatch_requests_total counter
jobpatch_requests_total{status="200"} 40
jobpatch_requests_total{status="503"} 3
# HELP jobpatch_errors_total Attempts that got no HTTP answer, by error class.
# TYPE jobpatch_errors_total counter
jobpatch_errors_total{class="timeout"} 2
)");
}

TEST_CASE("metrics_file: --shard labels every series, the run id is an info metric, failed "
          "lines by reason") {
  metrics_snapshot m;
  m.lines_failed = 4;
  m.exit_code = 1;
  m.requests_by_status = {{404, 1}};
  m.errors_by_class = {{"timeout", 2}};
  m.failed_by_reason = {{"withheld (an earlier update of the job failed)", 2},
                        {"HTTP 404 Not Found", 1},
                        {"earlier run: HTTP 404 Not Found", 1}};
  m.run_id = "0123456789abcdef";
  m.shard = "2/4";
  std::string text = format_metrics(m);
  CHECK(text.find("jobpatch_run_info{shard=\"2/4\",run_id=\"0123456789abcdef\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("jobpatch_failed_lines_total{shard=\"2/4\",reason=\"withheld\"} 2\n") !=
        std::string::npos);
  CHECK(text.find("jobpatch_failed_lines_total{shard=\"2/4\",reason=\"http_404_not_found\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("jobpatch_failed_lines_total{shard=\"2/"
                  "4\",reason=\"earlier_run_http_404_not_found\"} 1\n") != std::string::npos);
  CHECK(text.find("jobpatch_attempts_total{shard=\"2/4\"} 0\n") != std::string::npos);
  // Every sample carries the shard label, so two shards' files never define one series.
  std::size_t samples = 0, pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (line.starts_with("#")) continue;
    ++samples;
    CHECK_MESSAGE(line.find("{shard=\"2/4\"") != std::string_view::npos, line);
  }
  CHECK(samples > 15);
  // Without --shard or a run id: no labels added, no info metric.
  m.shard.clear();
  m.run_id.clear();
  text = format_metrics(m);
  CHECK(text.find("shard=") == std::string::npos);
  CHECK(text.find("run_info") == std::string::npos);
  CHECK(text.find("jobpatch_attempts_total 0\n") != std::string::npos);
}

TEST_CASE("metrics_file: reason labels") {
  CHECK(reason_label("withheld (an earlier update of the job failed)") == "withheld");
  CHECK(reason_label("retry budget exhausted") == "retry_budget_exhausted");
  CHECK(reason_label("HTTP 404 Not Found") == "http_404_not_found");
  CHECK(reason_label("earlier run: HTTP 403 Forbidden") == "earlier_run_http_403_forbidden");
  CHECK(reason_label("?!") == "other");
}

TEST_CASE("metrics_file: a run in progress without answers yet") {
  metrics_snapshot m;
  m.in_progress = true;
  std::string text = format_metrics(m);
  CHECK(text.find("jobpatch_run_in_progress 1\n") != std::string::npos);
  CHECK(text.find("jobpatch_last_success_timestamp_seconds 0\n") != std::string::npos);
  CHECK(text.find("jobpatch_request_duration_seconds_count 0\n") != std::string::npos);
  CHECK(text.find("exit_code") == std::string::npos);
  CHECK(text.find("requests_total") == std::string::npos);
  CHECK(text.find("errors_total") == std::string::npos);
}

TEST_CASE("metrics_file: label values are escaped") {
  CHECK(escape_label_value(R"(a"b\c)"
                           "\nd") == R"(a\"b\\c\nd)");
  metrics_snapshot m;
  m.errors_by_class = {{"odd\"class", 1}};
  CHECK(format_metrics(m).find(R"(jobpatch_errors_total{class="odd\"class"} 1)") !=
        std::string::npos);
}

TEST_CASE("metrics_file: summarize_latency takes quantiles, sum and count in seconds") {
  latency_histogram h;
  h.record(std::chrono::milliseconds(10));
  h.record(std::chrono::milliseconds(30));
  auto s = summarize_latency(h);
  REQUIRE(s.quantiles.size() == 4);
  CHECK(s.quantiles[0].first == 0.5);
  CHECK(s.quantiles[3].first == 0.999);
  CHECK(s.quantiles[0].second == doctest::Approx(0.010).epsilon(0.01));
  CHECK(s.quantiles[3].second == doctest::Approx(0.030).epsilon(0.01));
  CHECK(s.sum_seconds == doctest::Approx(0.040));
  CHECK(s.count == 2);
}

TEST_CASE("metrics_file: the file is replaced atomically and no temporary remains") {
  temp_dir dir;
  fs::path target = dir.path / "jobpatch.prom";
  metrics_snapshot m;
  m.lines_ok = 1;
  write_metrics_file(target.string(), m);
  CHECK(read_all(target) == format_metrics(m));
  // Replace: readers holding the old file keep seeing it whole (a new inode).
  std::ifstream old_reader(target);
  m.lines_ok = 2;
  write_metrics_file(target.string(), m);
  CHECK(read_all(target).find("jobpatch_lines_total{outcome=\"ok\"} 2\n") != std::string::npos);
  std::ostringstream old_text;
  old_text << old_reader.rdbuf();
  CHECK(old_text.str().find("jobpatch_lines_total{outcome=\"ok\"} 1\n") != std::string::npos);
  // Only the target is left in the directory.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    ++files;
    CHECK(e.path().filename() == "jobpatch.prom");
  }
  CHECK(files == 1);
}

TEST_CASE("metrics_file: a failed write leaves the old file and no temporary") {
  temp_dir dir;
  fs::path target = dir.path / "jobpatch.prom";
  write_file_atomically(target.string(), "old\n");
  // Renaming a file over a non-empty directory fails after the temporary was written.
  fs::path blocked = dir.path / "blocked";
  fs::create_directories(blocked / "inside");
  CHECK_THROWS_AS(write_file_atomically(blocked.string(), "new\n"), std::system_error);
  CHECK_THROWS_AS(write_file_atomically((dir.path / "missing" / "x.prom").string(), "new\n"),
                  std::system_error);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) {
    (void)e;
    ++files;
  }
  CHECK(files == 2); // jobpatch.prom and blocked/
  CHECK(read_all(target) == "old\n");
}

TEST_CASE("metrics_file: requests in flight, the concurrency limit and its mode, paused") {
  metrics_snapshot m;
  m.in_progress = true;
  CHECK(format_metrics(m).find("concurrency_limit") == std::string::npos); // no limit given
  m.in_flight = 7;
  m.concurrency_limit = 12;
  m.concurrency_auto = true;
  m.paused = true;
  std::string text = format_metrics(m);
  CHECK(text.find("\njobpatch_requests_in_flight 7\n") != std::string::npos);
  CHECK(text.find("\njobpatch_concurrency_limit{mode=\"auto\"} 12\n") != std::string::npos);
  CHECK(text.find("\njobpatch_paused 1\n") != std::string::npos);
  CHECK(text.find("# TYPE jobpatch_concurrency_limit gauge\n") != std::string::npos);
}
