#include <jobpatch/report/bench_statistics.hpp>

#include <boost/json/parse.hpp>
#include <doctest/doctest.h>

using namespace jobpatch;
using namespace std::chrono_literals;
namespace json = boost::json;

TEST_CASE("bench_statistics: error groups of the report") {
  CHECK_FALSE(error_group_of(attempt_outcome::success()).has_value());
  CHECK_FALSE(error_group_of(attempt_outcome::http(304)).has_value());
  CHECK(error_group_of(attempt_outcome::http(404)) == error_group::http_4xx);
  CHECK(error_group_of(attempt_outcome::http(429)) == error_group::http_4xx);
  CHECK(error_group_of(attempt_outcome::http(503)) == error_group::http_5xx);
  CHECK(error_group_of(attempt_outcome::failure(error_class::connect_refused)) ==
        error_group::connect);
  CHECK(error_group_of(attempt_outcome::failure(error_class::resolve)) == error_group::connect);
  CHECK(error_group_of(attempt_outcome::failure(error_class::tls_verify)) == error_group::tls);
  CHECK(error_group_of(attempt_outcome::failure(error_class::tls_handshake)) == error_group::tls);
  CHECK(error_group_of(attempt_outcome::failure(error_class::timeout)) == error_group::timeout);
  CHECK(error_group_of(attempt_outcome::failure(error_class::truncated)) == error_group::reset);
  CHECK(error_group_of(attempt_outcome::failure(error_class::reset)) == error_group::reset);
  CHECK(error_group_of(attempt_outcome::failure(error_class::cancelled)) == error_group::other);
  CHECK(identifier(error_group::http_5xx) == "5xx");
}

TEST_CASE("bench_statistics: late starts count only past the threshold") {
  bench_statistics stats;
  stats.record_start(-20us);
  stats.record_start(300us);                // timer jitter, on schedule
  stats.record_start(late_start_threshold); // exactly at the threshold: not late
  stats.record_start(4ms);
  stats.record_start(10ms);
  CHECK(stats.started() == 5);
  CHECK(stats.late() == 2);
  CHECK(stats.max_lateness() == 10ms);
  CHECK(stats.mean_lateness() == 7ms);
  bench_run_info info;
  auto text = stats.summary_text(info);
  CHECK(
      text.find(
          "2 of 5 requests started late (max 10.0 ms, mean 7.00 ms): the pool could not keep up") !=
      std::string::npos);
  CHECK(text.find("woke late") == std::string::npos);
  // A late wake-up from an on-time wait is the client's fault, and said so.
  stats.record_start(2ms, bench_statistics::start_kind::on_time_wait);
  CHECK(stats.late() == 3);
  CHECK(stats.late_wakeups() == 1);
  text = stats.summary_text(info);
  CHECK(text.find("; 1 of them because the client woke late (max 2.00 ms)") != std::string::npos);
  bench_statistics starved;
  starved.record_start(3ms, bench_statistics::start_kind::on_time_wait);
  text = starved.summary_text(info);
  CHECK(text.find("1 of 1 requests started late (max 3.00 ms, mean 3.00 ms): 1 of them because the "
                  "client woke late") != std::string::npos);
  CHECK(text.find("pool") == std::string::npos);
}

TEST_CASE("bench_statistics: operations and attempts per endpoint, summaries agree") {
  bench_statistics stats(100ms);
  // configs: one ok at once; jobname: a 503 then ok; params: a timeout, final.
  stats.record_start(0ns);
  stats.record_attempt(op_kind::configs, attempt_outcome::success(), 2ms);
  stats.record_operation(op_kind::configs, true, 1, 3ms, 10ms);
  stats.record_start(0ns);
  stats.record_attempt(op_kind::jobname, attempt_outcome::http(503), 1ms);
  stats.record_attempt(op_kind::jobname, attempt_outcome::success(), 1ms);
  stats.record_operation(op_kind::jobname, true, 2, 150ms, 160ms);
  stats.record_start(0ns);
  stats.record_attempt(op_kind::params, attempt_outcome::failure(error_class::timeout), 1s);
  stats.record_operation(op_kind::params, false, 1, 1s, 1020ms);

  CHECK(stats.completed() == 3);
  CHECK(stats.ok() == 2);
  CHECK(stats.failed() == 1);
  CHECK(stats.attempts() == 4);
  CHECK(stats.retries() == 1);
  CHECK(stats.latency(op_kind::jobname).count() == 1);
  CHECK(stats.service_time(op_kind::jobname).count() == 2);
  CHECK(stats.service_time().count() == 4);
  CHECK(stats.group_count(error_group::http_5xx) == 1);
  CHECK(stats.group_count(error_group::timeout) == 1);
  CHECK(stats.timeline().buckets().size() == 11);

  bench_run_info info;
  info.scheduled = 3;
  info.duration_seconds = 1;
  info.wall_seconds = 1.5;
  info.settings = {{"rate", "3/s"}};
  info.typed_settings.rate_start = info.typed_settings.rate_end = 3;
  info.typed_settings.connections = 2;
  auto doc = json::parse(stats.summary_json(info, 1)).as_object();
  CHECK(doc["requests"].as_int64() == 3);
  CHECK(doc["ok"].as_int64() == 2);
  CHECK(doc["retries"].as_int64() == 1);
  CHECK(doc["intendedRate"].to_number<double>() == doctest::Approx(3));
  CHECK(doc["requestsPerSecond"].to_number<double>() == doctest::Approx(2));
  CHECK(doc["byStatus"].at("200").as_int64() == 2);
  CHECK(doc["byStatus"].at("503").as_int64() == 1);
  CHECK(doc["byError"].at("timeout").as_int64() == 1);
  CHECK(doc["errorsByClass"].at("5xx").as_int64() == 1);
  CHECK(doc["errorsByClass"].at("connect").as_int64() == 0);
  CHECK(doc["latencyMs"].at("max").to_number<double>() == doctest::Approx(1000).epsilon(0.01));
  CHECK(doc["byOp"].at("jobname").at("serviceMs").at("count").as_int64() == 2);
  CHECK_FALSE(doc["byOp"].as_object().contains("datasource"));
  // Typed settings, so that runs compare by machine.
  CHECK(doc["summaryVersion"].as_int64() == 2);
  CHECK(doc["settings"].at("rate").to_number<double>() == 3);
  CHECK(doc["settings"].at("connections").as_int64() == 2);
  CHECK(doc["percentileCurve"].at("ms").as_array().size() == 41); // 3 requests: up to 99%
  CHECK(doc["exitCode"].as_int64() == 1);

  auto text = stats.summary_text(info);
  CHECK(text.find("3 requests in 1.50 s: 2 ok, 1 failed") != std::string::npos);
  CHECK(text.find("answers: 200: 2, 503: 1") != std::string::npos);
  CHECK(text.find("errors by class: timeout: 1, HTTP 5xx: 1") != std::string::npos);
  CHECK(text.find("every request started on schedule") != std::string::npos);

  auto report = stats.report_input(info);
  CHECK(report.requests == 3);
  CHECK(report.failed == 1);
  CHECK(report.endpoints.size() == 3);
  CHECK(report.status_counts.size() == 2);
  REQUIRE(report.error_counts.size() == 1); // 5xx is shown by status, not twice
  CHECK(report.error_counts[0].first == "timeout");
  CHECK(report.settings.back().first == "scheduled requests");
  CHECK(report.latency == &stats.latency());
}
