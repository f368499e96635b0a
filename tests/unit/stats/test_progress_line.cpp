#include <jobpatch/stats/progress_line.hpp>

#include <doctest/doctest.h>

using namespace jobpatch;
using namespace std::chrono_literals;
using clock_type = rate_meter::clock;

namespace {
const clock_type::time_point t0 = clock_type::time_point(100s);

// The visible part: without "\r" and "\x1b[K".
std::string visible(const std::string& line) {
  REQUIRE(line.starts_with("\r"));
  REQUIRE(line.ends_with("\x1b[K"));
  return line.substr(1, line.size() - 4);
}

progress_snapshot sample() {
  progress_snapshot p;
  p.done = 1234;
  p.total = 40000;
  p.ok = 1200;
  p.failed = 34;
  p.retrying = 3;
  p.rate = 812;
  p.elapsed = 75s;
  return p;
}
} // namespace

TEST_CASE("progress_line: rate_meter over a sliding window") {
  rate_meter m(t0, 5s);
  CHECK(m.rate(t0) == 0);
  CHECK(m.rate(t0 + 1s) == 0);
  // 100 events in the first second: 100/s measured over the time elapsed so far.
  m.record(t0 + 500ms, 100);
  CHECK(m.rate(t0 + 1s) == doctest::Approx(100));
  // Steady 200/s for 10 s: the window only sees the last 5 s.
  for (int i = 0; i < 100; ++i) m.record(t0 + 1s + i * 100ms, 20);
  CHECK(m.rate(t0 + 11s) == doctest::Approx(200).epsilon(0.05));
  // Silence: the rate decays to 0 once the window has passed.
  CHECK(m.rate(t0 + 13s) == doctest::Approx(200.0 * 3 / 5).epsilon(0.1));
  CHECK(m.rate(t0 + 17s) == 0);
  // A late event older than the window is ignored rather than counted in a new slot.
  m.record(t0 + 1s, 1000);
  CHECK(m.rate(t0 + 17s) == 0);
}

TEST_CASE("progress_line: full line with total, percentage and ETA") {
  latency_histogram h;
  h.record(3200us);
  h.record(18ms);
  auto p = sample();
  p.latency = &h;
  std::string line = format_progress_line(p, 200);
  CHECK(
      visible(line) ==
      "1:15  1234/40000 3.0%  ok 1200  failed 34  retrying 3  812/s  p50 3.2ms p99 18ms  ETA 0:48");
}

TEST_CASE("progress_line: unknown total omits percentage and ETA") {
  auto p = sample();
  p.total.reset();
  std::string text = visible(format_progress_line(p, 200));
  CHECK(text == "1:15  1234 done  ok 1200  failed 34  retrying 3  812/s");
  CHECK(text.find('%') == std::string::npos);
  CHECK(text.find("ETA") == std::string::npos);
}

TEST_CASE("progress_line: ETA edge cases") {
  auto p = sample();
  p.rate = 0;
  CHECK(visible(format_progress_line(p, 200)).ends_with("0.0/s  ETA --"));
  p.rate = 2.5;
  p.done = 0;
  p.total = 9000; // one hour at 2.5/s
  CHECK(visible(format_progress_line(p, 200)).ends_with("2.5/s  ETA 1:00:00"));
  p.done = 9000;
  CHECK(visible(format_progress_line(p, 200)).find("9000/9000 100.0%") != std::string::npos);
  CHECK(visible(format_progress_line(p, 200)).ends_with("ETA 0:00"));
  p.done = 8999; // never shows 100% before the end
  CHECK(visible(format_progress_line(p, 200)).find("99.9%") != std::string::npos);
}

TEST_CASE("progress_line: narrow terminals drop the least important parts first") {
  latency_histogram h;
  h.record(3ms);
  auto p = sample();
  p.latency = &h;
  for (std::size_t width = 1; width <= 120; ++width) {
    CAPTURE(width);
    CHECK(visible(format_progress_line(p, width)).size() <= width - 1);
  }
  // Exactly wide enough, and one column short.
  CHECK(visible(format_progress_line(p, 74)) ==
        "1234/40000 3.0%  ok 1200  failed 34  812/s  p50 3.0ms p99 3.0ms  ETA 0:48");
  CHECK(visible(format_progress_line(p, 73)) ==
        "1234/40000 3.0%  ok 1200  failed 34  812/s  ETA 0:48");
  CHECK(visible(format_progress_line(p, 50)) == "1234/40000 3.0%  failed 34  812/s  ETA 0:48");
  CHECK(visible(format_progress_line(p, 40)) == "1234/40000 3.0%  812/s  ETA 0:48");
  CHECK(visible(format_progress_line(p, 20)) == "1234/40000 3.0%");
  CHECK(visible(format_progress_line(p, 10)) == "1234/4000");
  CHECK(visible(format_progress_line(p, 0)).size() <= 79);
}

TEST_CASE("bench progress line: elapsed/total, achieved of intended, percentiles, errors") {
  latency_histogram h;
  h.record(std::chrono::milliseconds(2));
  bench_progress_snapshot p;
  p.elapsed = std::chrono::seconds(12);
  p.duration = std::chrono::seconds(60);
  p.achieved_rate = 198.4;
  p.intended_rate = 200;
  p.latency = &h;
  p.done = 2376;
  p.errors = 3;
  CHECK(format_bench_progress_line(p, 120) ==
        "\rbench 0:12/1:00  198/s of 200/s  p50 2.0ms p99 2.0ms  errors 3  2376 done\x1b[K");
  // Narrow: the least important parts go first, the rest stays whole.
  CHECK(format_bench_progress_line(p, 40) == "\rbench 0:12/1:00  198/s of 200/s\x1b[K");
  // Elapsed never shows past the duration (the last answers come in after it).
  p.elapsed = std::chrono::seconds(61);
  CHECK(format_bench_progress_line(p, 120).starts_with("\rbench 1:00/1:00"));
}

TEST_CASE("progress_line: requests in flight of the limit, auto, and a pause") {
  auto p = sample();
  p.total.reset();
  p.in_flight = 7;
  p.limit = 12;
  p.limit_auto = true;
  CHECK(visible(format_progress_line(p, 200)) ==
        "1:15  1234 done  ok 1200  failed 34  retrying 3  in flight 7/12 auto  812/s");
  p.limit_auto = false;
  p.paused = true;
  CHECK(visible(format_progress_line(p, 200)) ==
        "1:15  PAUSED  1234 done  ok 1200  failed 34  retrying 3  in flight 7/12  812/s");
  // Narrow: the pause stays, in flight goes with retrying.
  CHECK(visible(format_progress_line(p, 40)) == "PAUSED  1234 done  failed 34  812/s");
}
