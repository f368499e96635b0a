#include <jobpatch/report/load_schedule.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>

using namespace jobpatch;
using namespace std::chrono_literals;
using clock_type = load_schedule::clock;

namespace {
const clock_type::time_point t0 = clock_type::time_point(1000s);
}

TEST_CASE("load_schedule: parse_rate_spec accepts a rate or a ramp") {
  CHECK(parse_rate_spec("500") == rate_spec{500, 500});
  CHECK(parse_rate_spec("0.5") == rate_spec{0.5, 0.5});
  CHECK(parse_rate_spec("1e3") == rate_spec{1000, 1000});
  CHECK(parse_rate_spec("100:1000") == rate_spec{100, 1000});
  CHECK(parse_rate_spec("1000:100") == rate_spec{1000, 100});
  CHECK_FALSE(parse_rate_spec("7").is_ramp());
  CHECK(parse_rate_spec("1:2").is_ramp());
}

TEST_CASE("load_schedule: parse_rate_spec rejects bad text with a clear message") {
  for (const char* bad : {"", "abc", "0", "-5", "inf", "nan", "1e999", "100:", ":100", "1:2:3",
                          " 100", "100 ", "10/s", "0:100", "100:-1", "+5"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_rate_spec(bad), std::invalid_argument);
  }
  CHECK_THROWS_WITH(parse_rate_spec("abc"),
                    doctest::Contains("invalid --rate \"abc\": not a number"));
  CHECK_THROWS_WITH(parse_rate_spec("0"), doctest::Contains("must be greater than 0"));
  CHECK_THROWS_WITH(parse_rate_spec("inf"), doctest::Contains("must be finite"));
  CHECK_THROWS_WITH(parse_rate_spec("5:"), doctest::Contains("START:END"));
}

TEST_CASE("load_schedule: constant rate is evenly spaced from the start") {
  load_schedule s({100, 100}, 1s, t0);
  CHECK(s.total_requests() == 100);
  CHECK(s.intended_time(0) == t0);
  CHECK(s.offset(1) == 10ms);
  CHECK(s.offset(99) == 990ms);
  CHECK(s.offset(100) == 1s); // past the end: continues at the same rate
  CHECK(s.rate_at(500ms) == doctest::Approx(100));
}

TEST_CASE("load_schedule: totals round as the intended times fall") {
  CHECK(load_schedule({0.1, 0.1}, 30s, t0).total_requests() == 3); // 0, 10, 20 s
  CHECK(load_schedule({3, 3}, 1s, t0).total_requests() == 3);
  CHECK(load_schedule({2.5, 2.5}, 1s, t0).total_requests() == 3); // 0, 0.4, 0.8 s
  CHECK(load_schedule({0.5, 0.5}, 1s, t0).total_requests() == 1); // only t = 0
  CHECK(load_schedule({1000, 1000}, 60s, t0).total_requests() == 60000);
}

TEST_CASE("load_schedule: a ramp follows the integral of the linear rate") {
  // 100/s -> 1000/s over 10 s: 5500 requests.
  load_schedule s({100, 1000}, 10s, t0);
  CHECK(s.total_requests() == 5500);
  CHECK(s.rate_at(0s) == doctest::Approx(100));
  CHECK(s.rate_at(5s) == doctest::Approx(550));
  CHECK(s.rate_at(10s) == doctest::Approx(1000));
  // N(t) = 100 t + 45 t^2: N(1) = 145, N(5) = 1625.
  CHECK(s.offset(145) == 1s);
  CHECK(s.offset(1625) == 5s);
  // Each time solves N(t) = i, and times strictly increase.
  auto prev = std::chrono::nanoseconds(-1);
  for (std::uint64_t i = 0; i < s.total_requests(); i += 7) {
    double t = static_cast<double>(s.offset(i).count()) / 1e9;
    // Offsets are whole nanoseconds: at <= 1000/s that is <= 1e-6 of a request.
    CHECK(std::abs(100 * t + 45 * t * t - static_cast<double>(i)) < 1e-6);
    CHECK(s.offset(i) > prev);
    prev = s.offset(i);
  }
  CHECK(s.offset(s.total_requests() - 1) < 10s);
  // Past the end it continues at the final rate: 1 ms per request.
  CHECK(s.offset(5500) == 10s);
  CHECK(s.offset(5501) == 10s + 1ms);
}

TEST_CASE("load_schedule: a downward ramp and a nearly flat ramp") {
  load_schedule down({1000, 100}, 10s, t0);
  CHECK(down.total_requests() == 5500);
  // N(t) = 1000 t - 45 t^2: N(1) = 955.
  CHECK(down.offset(955) == 1s);
  CHECK(down.offset(5499) < 10s);
  CHECK(down.offset(5500) == 10s);
  // The gap between consecutive requests widens as the rate falls.
  CHECK((down.offset(5499) - down.offset(5498)) > (down.offset(2) - down.offset(1)));

  load_schedule flat({100, 100.000001}, 10s, t0);
  CHECK(flat.total_requests() == 1001);
  CHECK(std::abs((flat.offset(500) - 5s).count()) < 1000); // within 1 us of 5 s
}

TEST_CASE("load_schedule: due_by counts the requests whose time has come") {
  load_schedule s({100, 100}, 1s, t0);
  CHECK(s.due_by(t0 - 1ms) == 0);
  CHECK(s.due_by(t0) == 1);
  CHECK(s.due_by(t0 + 9ms) == 1);
  CHECK(s.due_by(t0 + 10ms) == 2);
  CHECK(s.due_by(t0 + 995ms) == 100);
  CHECK(s.due_by(t0 + 1h) == 100);
  load_schedule ramp({100, 1000}, 10s, t0);
  for (std::uint64_t i : {0u, 1u, 144u, 145u, 146u, 1625u, 5499u}) {
    CAPTURE(i);
    CHECK(ramp.due_by(ramp.intended_time(i)) == i + 1);
    CHECK(ramp.due_by(ramp.intended_time(i) - 1ns) == i);
  }
}

TEST_CASE("load_schedule: rejects what cannot be scheduled") {
  CHECK_THROWS_AS(load_schedule({100, 100}, 0s, t0), std::invalid_argument);
  CHECK_THROWS_AS(load_schedule({0, 100}, 1s, t0), std::invalid_argument);
  CHECK_THROWS_AS(load_schedule({1e300, 1e300}, 1h, t0), std::invalid_argument);
}
