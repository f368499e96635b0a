#include <jobpatch/report/bench_baseline.hpp>
#include <jobpatch/report/bench_statistics.hpp>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace jobpatch;
using namespace std::chrono_literals;

namespace {

// A bench run of `n` requests of `op`, each taking `latency`, `failed` of them failing.
std::string summary_of(op_kind op, int n, std::chrono::nanoseconds latency, int failed) {
  bench_statistics stats(100ms);
  for (int i = 0; i < n; ++i) {
    bool ok = i >= failed;
    stats.record_attempt(op, ok ? attempt_outcome::success(200) : attempt_outcome::http(500),
                         latency);
    stats.record_operation(op, ok, 1, latency, std::chrono::milliseconds(i));
  }
  bench_run_info info;
  info.scheduled = static_cast<std::uint64_t>(n);
  info.duration_seconds = 1;
  info.wall_seconds = 1;
  info.run_id = "feedc0de00000001";
  return stats.summary_json(info, failed ? 1 : 0);
}

std::string refusal(const std::string& text) {
  try {
    read_bench_summary(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

const comparison_row& row(const std::vector<comparison_row>& rows, const std::string& metric) {
  for (const auto& r : rows)
    if (r.metric == metric) return r;
  FAIL("no row " << metric);
  return rows.front();
}

} // namespace

TEST_CASE("bench_baseline: a summary read back holds what was measured, curves included") {
  auto f = read_bench_summary(summary_of(op_kind::jobname, 1000, 2ms, 10));
  CHECK(f.run_id == "feedc0de00000001");
  CHECK(f.requests == 1000);
  CHECK(f.failed == 10);
  CHECK(f.error_rate() == doctest::Approx(0.01));
  CHECK(f.latency.p99 == doctest::Approx(2).epsilon(0.01));
  CHECK(f.latency.count == 1000);
  CHECK(f.curve.step == doctest::Approx(0.05));
  CHECK(f.curve.ms.size() == 61); // 1000 requests: up to 99.9%
  REQUIRE(f.endpoints.size() == 1);
  CHECK(f.endpoints[0].name == "jobname");
  CHECK(f.endpoints[0].failed == 10);
  CHECK(f.endpoints[0].curve.ms.size() == 61);
}

TEST_CASE("bench_baseline: what is not a bench summary is refused with the reason") {
  CHECK(refusal("").find("not JSON") != std::string::npos);
  CHECK(refusal("[1]").find("not a JSON object") != std::string::npos);
  CHECK(refusal(R"({"total":3,"ok":3})").find("\"mode\" is not \"bench\" (an apply summary?)") !=
        std::string::npos);
  CHECK(refusal(R"({"mode":"bench","summaryVersion":9})").find("summaryVersion 9 is newer") !=
        std::string::npos);
  CHECK(refusal(R"({"mode":"bench","requests":1,"ok":1,"failed":0,"intendedRate":1,)"
                R"("requestsPerSecond":1,"latencyMs":{"p50":1}})")
            .find("latencyMs.p90 is missing") != std::string::npos);
  CHECK(refusal(R"({"mode":"bench","requests":"x"})").find("requests is not a number") !=
        std::string::npos);
  // Version 1 (no curves) is still a baseline.
  auto v1 = summary_of(op_kind::configs, 10, 1ms, 0);
  for (auto at = v1.find("\"percentileCurve\""); at != std::string::npos;
       at = v1.find("\"percentileCurve\"", at + 2))
    v1.insert(at + 1, "old");
  v1.erase(v1.find("\"summaryVersion\":2,"), 19);
  auto old = read_bench_summary(v1);
  CHECK(old.curve.ms.empty());
  CHECK(old.latency.p50 == doctest::Approx(1).epsilon(0.01));
}

TEST_CASE("bench_baseline: rows give relative changes, error rates in points, worse or better") {
  auto before = read_bench_summary(summary_of(op_kind::jobname, 1000, 2ms, 0));
  auto now = read_bench_summary(summary_of(op_kind::jobname, 1000, 3ms, 5));
  auto rows = compare_runs(now, before);
  const auto& p99 = row(rows, "p99");
  CHECK(p99.now == "3.00 ms");
  CHECK(p99.baseline == "2.00 ms");
  CHECK(p99.change == "+50.0%");
  CHECK(p99.worse == 1);
  const auto& errors = row(rows, "errors");
  CHECK(errors.now == "0.50%");
  CHECK(errors.baseline == "0.00%");
  CHECK(errors.change == "+0.50 pts");
  CHECK(errors.worse == 1);
  CHECK(row(rows, "jobname p50").change == "+50.0%");
  CHECK(row(rows, "achieved rate").change == "0.0%");
  CHECK(row(rows, "achieved rate").worse == 0);
  CHECK(row(rows, "intended rate").now == "1000.0/s");
  // The other way round, better.
  auto back = compare_runs(before, now);
  CHECK(row(back, "p99").change == "-33.3%");
  CHECK(row(back, "p99").worse == -1);
  CHECK(row(back, "errors").change == "-0.50 pts");

  auto text = comparison_text(rows, "old.json");
  CHECK(text.starts_with("compared with baseline old.json:\n"));
  CHECK(text.find("  p99                       3.00 ms      2.00 ms  +50.0%\n") !=
        std::string::npos);
  // A value in µs lines up with one in ms: columns, not bytes.
  comparison_row micro{
      .metric = "p50", .now = "900 µs", .baseline = "1.00 ms", .change = "-10.0%", .worse = -1};
  CHECK(comparison_text({micro}, "old.json")
            .find("  p50                        900 µs      1.00 ms  -10.0%\n") !=
        std::string::npos);
}
