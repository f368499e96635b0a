#include <jobpatch/wire/retry_after.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>

using namespace jobpatch;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {
// 1994-11-06 08:49:37 UTC, the RFC's example instant.
system_clock::time_point rfc_example() {
  return sys_days{year{1994} / November / 6} + 8h + 49min + 37s;
}
} // namespace

TEST_CASE("retry_after: delta-seconds") {
  auto now = rfc_example();
  CHECK(parse_retry_after("0", now) == 0ms);
  CHECK(parse_retry_after("1", now) == 1000ms);
  CHECK(parse_retry_after("120", now) == 120s);
  CHECK(parse_retry_after("007", now) == 7s);
  CHECK(parse_retry_after(" \t5 ", now) == 5s);
}

TEST_CASE("retry_after: absurd delta-seconds are clamped to a day, never overflow") {
  auto now = rfc_example();
  CHECK(parse_retry_after("86400", now) == 24h);
  CHECK(parse_retry_after("86401", now) == 24h);
  CHECK(parse_retry_after("999999999999999999999999999999999999", now) == 24h);
  CHECK(parse_retry_after("18446744073709551616", now) == 24h);
}

TEST_CASE("retry_after: garbage delta-seconds are rejected") {
  auto now = rfc_example();
  for (std::string_view bad :
       {"", " ", "-1", "+1", "1.5", "1e3", "5s", "5 s", "0x10", "1 2", "\t", "1,2", "١"})
    CHECK_MESSAGE(!parse_retry_after(bad, now), "input: ", std::string(bad));
}

TEST_CASE("retry_after: the three HTTP-date forms give the same instant") {
  auto now = rfc_example() - 90s;
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 90s);
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now) == 90s);
  CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994", now) == 90s);
  // Ten days ahead: clamped to the one-day maximum.
  CHECK(parse_retry_after("Wed Nov 16 08:49:37 1994", now) == 24h);
}

TEST_CASE("retry_after: HTTP-date keeps sub-second precision of now") {
  auto now = rfc_example() - 1500ms;
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 1500ms);
}

TEST_CASE("retry_after: a date in the past gives zero, a far future date is clamped") {
  auto now = rfc_example();
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:36 GMT", now) == 0ms);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == 0ms);
  CHECK(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now) == 0ms);
  CHECK(parse_retry_after("Mon, 01 Jan 0001 00:00:00 GMT", now) == 0ms);
  CHECK(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now) == 24h);
  CHECK(parse_retry_after("Mon, 07 Nov 1994 08:49:36 GMT", now) == 24h - 1s);
}

TEST_CASE("retry_after: day names, month names and GMT are matched case-insensitively") {
  auto now = rfc_example() - 2s;
  CHECK(parse_retry_after("sun, 06 nov 1994 08:49:37 gmt", now) == 2s);
  CHECK(parse_retry_after("SUNDAY, 06-NOV-94 08:49:37 GMT", now) == 2s);
}

TEST_CASE("retry_after: every month name is recognised") {
  const char* names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned m = 1; m <= 12; ++m) {
    auto instant = sys_days{year{2030} / month{m} / 15} + 12h;
    std::string value = std::string("Tue, 15 ") + names[m - 1] + " 2030 12:00:00 GMT";
    CHECK_MESSAGE(parse_retry_after(value, instant - 3s) == 3s, value);
  }
}

TEST_CASE("retry_after: RFC 850 two-digit years use the 50-year rule") {
  // Now is 2030: "31" is 2031 (future), "94" is 1994 (not 2094, > 50 years ahead).
  auto now = sys_days{year{2030} / January / 1} + 0h;
  auto in_2031 = parse_retry_after("Wednesday, 01-Jan-31 00:00:00 GMT", now);
  REQUIRE(in_2031);
  CHECK(*in_2031 == 24h); // 365 days ahead, clamped
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now) == 0ms);
  auto now2 = sys_days{year{2030} / January / 1} - 60s;
  CHECK(parse_retry_after("Tuesday, 01-Jan-30 00:00:00 GMT", now2) == 60s);
  // 2080 is exactly 50 years ahead of 2030: still the future.
  CHECK(parse_retry_after("Monday, 01-Jan-80 00:00:00 GMT", now) == 24h);
  // 2081 is more than 50 years ahead: 1981, the past.
  CHECK(parse_retry_after("Thursday, 01-Jan-81 00:00:00 GMT", now) == 0ms);
}

TEST_CASE("retry_after: asctime accepts a space-padded or two-digit day") {
  auto now = sys_days{year{2030} / March / 5} + 10h;
  CHECK(parse_retry_after("Tue Mar  5 10:00:04 2030", now) == 4s);
  CHECK(parse_retry_after("Tue Mar 05 10:00:04 2030", now) == 4s);
  CHECK_FALSE(parse_retry_after("Tue Mar 5 10:00:04 2030", now));
  CHECK_FALSE(parse_retry_after("Tue Mar   5 10:00:04 2030", now));
}

TEST_CASE("retry_after: invalid dates are rejected") {
  auto now = rfc_example();
  for (std::string_view bad : {
           "Sun, 06 Nov 1994 08:49:37",        // no GMT
           "Sun, 06 Nov 1994 08:49:37 UTC",    // wrong zone
           "Sun, 06 Nov 1994 08:49:37 GMTX",   // trailing letters
           "Sun, 06 Nov 1994 08:49:37 GMT x",  // trailing bytes
           "Sun, 6 Nov 1994 08:49:37 GMT",     // one-digit day
           "Sun, 06 Nov 94 08:49:37 GMT",      // two-digit year in IMF form
           "Sun, 31 Feb 1994 08:49:37 GMT",    // no such day
           "Sun, 00 Nov 1994 08:49:37 GMT",    // day zero
           "Sun, 06 Xyz 1994 08:49:37 GMT",    // bad month
           "Sun, 06 Nov 1994 24:00:00 GMT",    // hour out of range
           "Sun, 06 Nov 1994 08:60:00 GMT",    // minute out of range
           "Sun, 06 Nov 1994 08:49:61 GMT",    // second out of range
           "Sun, 06 Nov 1994 8:49:37 GMT",     // one-digit hour
           "Sun,06 Nov 1994 08:49:37 GMT",     // missing space
           "Sunday, 06 Nov 1994 08:49:37 GMT", // long day name with IMF form
           "Sun, 06-Nov-94 08:49:37 GMT",      // short day name with RFC 850 form
           "Sunday, 06-Nov-1994 08:49:37 GMT",
           "Sun Nov  6 08:49:37 94", // asctime needs four digits
           "Sun Nov  6 08:49:37",
           "Xyz, 06 Nov 1994 08:49:37 GMT", // unknown day name
           "Sun",
           "Sun,",
           "Sunday",
           "GMT",
       })
    CHECK_MESSAGE(!parse_retry_after(bad, now), "input: ", std::string(bad));
  // A leap second is accepted.
  CHECK(parse_retry_after("Sat, 31 Dec 2016 23:59:60 GMT",
                          sys_days{year{2016} / December / 31} + 23h + 59min + 50s) == 10s);
}

TEST_CASE("retry_after: random and mutated inputs never crash") {
  std::mt19937_64 rng(12345);
  const std::string seeds[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                               "Sun Nov  6 08:49:37 1994", "120"};
  auto now = rfc_example();
  int parsed = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string s = seeds[rng() % 4];
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      std::size_t pos = rng() % (s.size() + 1);
      switch (rng() % 3) {
      case 0:
        if (pos < s.size()) s[pos] = static_cast<char>(rng());
        break;
      case 1:
        s.insert(pos, 1, static_cast<char>(rng()));
        break;
      default:
        if (pos < s.size()) s.erase(pos, 1);
        break;
      }
    }
    auto r = parse_retry_after(s, now);
    if (r) {
      ++parsed;
      CHECK(*r >= 0ms);
      CHECK(*r <= max_retry_after_wait);
    }
  }
  CHECK(parsed > 0); // some mutations stay valid (e.g. a changed digit)
}
