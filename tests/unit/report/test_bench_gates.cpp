#include <jobpatch/report/bench_gates.hpp>

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace jobpatch;
using namespace std::chrono_literals;

namespace {
// The message parse_bench_gate throws for `expression`, or "" when it parses.
std::string refusal(const std::string& expression) {
  try {
    parse_bench_gate(expression);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST_CASE("bench_gates: latency gates with units, comparisons and endpoints") {
  auto g = parse_bench_gate("p99<250ms");
  CHECK(g.what == bench_gate::metric::percentile);
  CHECK(g.quantile == 0.99);
  CHECK(g.compare == bench_gate::comparison::less);
  CHECK(g.threshold == 250);
  CHECK(!g.op);

  g = parse_bench_gate(" p99.9 <= 1s ");
  CHECK(g.quantile == 0.999);
  CHECK(g.compare == bench_gate::comparison::less_equal);
  CHECK(g.threshold == 1000);
  CHECK(g.expression == "p99.9 <= 1s");

  g = parse_bench_gate("jobname:p99.99>=1500us");
  REQUIRE(g.op);
  CHECK(*g.op == op_kind::jobname);
  CHECK(g.quantile == 0.9999);
  CHECK(g.compare == bench_gate::comparison::greater_equal);
  CHECK(g.threshold == doctest::Approx(1.5));

  CHECK(parse_bench_gate("max>2ms").what == bench_gate::metric::max);
  CHECK(parse_bench_gate("mean<0.5ms").what == bench_gate::metric::mean);
  CHECK(parse_bench_gate("p50<1us").threshold == doctest::Approx(0.001));
}

TEST_CASE("bench_gates: errors in percent, rate as a ratio or percent") {
  auto g = parse_bench_gate("errors<0.1%");
  CHECK(g.what == bench_gate::metric::errors);
  CHECK(g.threshold == doctest::Approx(0.001));
  CHECK(parse_bench_gate("configs:errors<=5%").op == op_kind::configs);
  g = parse_bench_gate("rate>=0.95");
  CHECK(g.what == bench_gate::metric::rate);
  CHECK(g.threshold == doctest::Approx(0.95));
  CHECK(parse_bench_gate("rate>=95%").threshold == doctest::Approx(0.95));
}

TEST_CASE("bench_gates: refusals name the expression and say what is expected") {
  CHECK(refusal("p99") == "--fail-if \"p99\": no comparison (< <= > >=); expected [OP:]METRIC "
                          "CMP VALUE, e.g. p99<250ms, p99.9<=1s, errors<0.1%, rate>=0.95, "
                          "jobname:p99<200ms (METRIC: p50 p90 p99 p99.9 p99.99 max mean errors "
                          "rate; CMP: < <= > >=)");
  CHECK(refusal("p98<1ms").find("unknown metric \"p98\" (expected p50, p90") != std::string::npos);
  CHECK(refusal("p99<250").find("\"p99<250\": a latency needs a unit: us, ms or s") !=
        std::string::npos);
  CHECK(refusal("p99<fast").find("\"fast\" is not a non-negative number") != std::string::npos);
  CHECK(refusal("p99<-1ms").find("not a non-negative number") != std::string::npos);
  CHECK(refusal("errors<1").find("a percentage of the requests") != std::string::npos);
  CHECK(refusal("errors<101%").find("at most 100%") != std::string::npos);
  CHECK(refusal("jobs:p99<1ms").find("unknown endpoint \"jobs\"") != std::string::npos);
  CHECK(refusal("configs:rate>=0.9").find("takes no endpoint") != std::string::npos);
  CHECK(refusal("rate>=0.9x").find("a ratio") != std::string::npos);
  CHECK(refusal("p99<1ms2").find("a latency needs a unit") != std::string::npos);
  CHECK(refusal("").find("empty") != std::string::npos);
}

TEST_CASE("bench_gates: a gate no run can pass is refused, not failed at the end") {
  // rate is achieved/intended: above 1 (100 %) it means nothing, whatever the comparison.
  CHECK(refusal("rate>1.5") ==
        "--fail-if \"rate>1.5\": rate is achieved/intended, at most 1 (100%): a threshold "
        "above it means nothing (e.g. rate>=0.95)");
  CHECK(refusal("rate>=150%").find("at most 1 (100%)") != std::string::npos);
  CHECK(refusal("rate<1.01").find("at most 1 (100%)") != std::string::npos);
  // Past a bound: above the most a metric can be...
  CHECK(refusal("rate>1") == "--fail-if \"rate>1\": rate is at most 1 (100%): the gate can "
                             "never pass");
  CHECK(refusal("rate>100%").find("can never pass") != std::string::npos);
  CHECK(refusal("errors>100%") ==
        "--fail-if \"errors>100%\": errors is at most 100%: the gate can never pass");
  CHECK(refusal("configs:errors>100%").find("can never pass") != std::string::npos);
  // ...or below 0.
  CHECK(refusal("errors<0%") ==
        "--fail-if \"errors<0%\": errors is never below 0: the gate can never pass");
  CHECK(refusal("rate<0").find("rate is never below 0") != std::string::npos);
  CHECK(refusal("p99<0ms").find("p99 is never below 0") != std::string::npos);
  CHECK(refusal("jobname:max<0s").find("max is never below 0") != std::string::npos);
  CHECK(refusal("mean<=0us") ==
        "--fail-if \"mean<=0us\": a latency is always above 0: the gate can never pass");
  // The bounds themselves can be met.
  for (const char* meetable :
       {"rate>=1", "rate<=1", "rate>=100%", "rate>0", "rate<=0", "errors<=0%", "errors>=100%",
        "errors>0%", "errors<100%", "p99>0ms", "p99>=0ms", "p50<0.001ms"}) {
    INFO(meetable);
    CHECK(refusal(meetable) == "");
  }
}

TEST_CASE("bench_gates: evaluation against measured figures") {
  latency_histogram h;
  for (int i = 1; i <= 100; ++i) h.record(std::chrono::milliseconds(i));
  gate_figures f{&h, 998, 2, 190, 200};

  auto r = evaluate_gate(parse_bench_gate("p50<100ms"), f);
  CHECK(r.pass);
  REQUIRE(r.actual);
  CHECK(*r.actual == doctest::Approx(50).epsilon(0.02));
  CHECK(r.actual_text.starts_with("p50 "));
  CHECK_FALSE(evaluate_gate(parse_bench_gate("p50<1us"), f).pass);
  CHECK(evaluate_gate(parse_bench_gate("max<=101ms"), f).pass);
  CHECK_FALSE(evaluate_gate(parse_bench_gate("max>101ms"), f).pass);

  r = evaluate_gate(parse_bench_gate("errors<0.1%"), f); // 0.2%
  CHECK_FALSE(r.pass);
  CHECK(*r.actual == doctest::Approx(0.002));
  CHECK(r.actual_text == "errors 0.200% (2 of 1000)");
  CHECK(evaluate_gate(parse_bench_gate("errors<=0.2%"), f).pass);

  r = evaluate_gate(parse_bench_gate("rate>=0.95"), f); // 0.95 exactly
  CHECK(r.pass);
  CHECK_FALSE(evaluate_gate(parse_bench_gate("rate>0.95"), f).pass);

  // Nothing measured: the gate fails, saying so.
  latency_histogram empty;
  r = evaluate_gate(parse_bench_gate("jobname:p99<1s"), gate_figures{&empty, 0, 0, 0, 0});
  CHECK_FALSE(r.pass);
  CHECK_FALSE(r.actual);
  CHECK(r.actual_text == "no jobname request completed");

  std::string text = gates_text({evaluate_gate(parse_bench_gate("p50<100ms"), f),
                                 evaluate_gate(parse_bench_gate("errors<0.1%"), f)});
  CHECK(text.starts_with("gates: 1 of 2 passed\n  pass  p50<100ms: p50 "));
  CHECK(text.find("  FAIL  errors<0.1%: errors 0.200% (2 of 1000)\n") != std::string::npos);
}
