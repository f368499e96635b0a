#include <jobpatch/stats/time_series.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

using namespace jobpatch;
using namespace std::chrono_literals;

TEST_CASE("time_series: time_bucket counts and exact min/max/mean") {
  time_bucket b;
  CHECK(b.count() == 0);
  CHECK(b.percentile(0.5) == 0ns);
  CHECK(b.min() == 0ns);
  b.record(2ms, true);
  b.record(4ms, false);
  b.record(6ms, true);
  CHECK(b.count() == 3);
  CHECK(b.errors() == 1);
  CHECK(b.min() == 2ms);
  CHECK(b.max() == 6ms);
  CHECK(b.sum() == 12ms);
  CHECK(b.mean() == 4ms);
  // Estimates are clamped to the exact extremes.
  CHECK(b.percentile(0) == 2ms);
  CHECK(b.percentile(1) == 6ms);
}

TEST_CASE("time_series: counter boundaries are quarter octaves") {
  CHECK(time_bucket::counter_index(0ns) == 0);
  CHECK(time_bucket::counter_index(4095ns) == 0);
  CHECK(time_bucket::counter_index(4096ns) == 0);
  CHECK(time_bucket::counter_index(8191ns) == 3);
  CHECK(time_bucket::counter_index(8192ns) == 4);
  CHECK(time_bucket::counter_index(std::chrono::nanoseconds(1 << 20)) == 32);
  CHECK(time_bucket::counter_index(1h) == time_bucket::counter_count - 1);
  for (int i = 1; i < 95; ++i) {
    // Values just below and at a boundary land in neighbouring counters.
    auto edge = static_cast<std::int64_t>(std::ceil(std::exp2(12 + i / 4.0)));
    CAPTURE(i);
    CHECK(time_bucket::counter_index(std::chrono::nanoseconds(edge)) == static_cast<unsigned>(i));
    CHECK(time_bucket::counter_index(std::chrono::nanoseconds(edge - 2)) ==
          static_cast<unsigned>(i - 1));
  }
}

TEST_CASE("time_series: bucket percentiles are within 10% of the exact ones") {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(std::log(5e6), 1.0); // median 5 ms, long tail
  time_bucket b;
  std::vector<std::int64_t> values;
  for (int i = 0; i < 20000; ++i) {
    auto v = static_cast<std::int64_t>(dist(rng)) + 10000;
    values.push_back(v);
    b.record(std::chrono::nanoseconds(v), true);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.1, 0.5, 0.9, 0.99, 0.999}) {
    auto exact =
        static_cast<double>(values[static_cast<std::size_t>(std::ceil(q * values.size())) - 1]);
    auto est = static_cast<double>(b.percentile(q).count());
    CAPTURE(q);
    CHECK(std::abs(est - exact) / exact <= 0.10);
  }
}

TEST_CASE("time_series: records land in the bucket of their offset") {
  time_series s(1s, 10);
  CHECK(s.buckets().empty());
  s.record(100ms, 5ms, true);
  s.record(900ms, 7ms, false);
  s.record(2500ms, 9ms, true);
  s.record(-5ms, 1ms, true); // before the start: first bucket
  REQUIRE(s.buckets().size() == 3);
  CHECK(s.bucket_width() == 1s);
  CHECK(s.buckets()[0].count() == 3);
  CHECK(s.buckets()[0].errors() == 1);
  CHECK(s.buckets()[1].count() == 0);
  CHECK(s.buckets()[2].count() == 1);
  CHECK(s.bucket_start(2) == 2s);
  CHECK(s.last_offset() == 2500ms);
}

TEST_CASE("time_series: a long run merges buckets pairwise and keeps memory fixed") {
  time_series s(1s, 4);
  for (int t = 0; t < 4; ++t)
    s.record(std::chrono::seconds(t), std::chrono::milliseconds(t + 1), t != 3);
  CHECK(s.buckets().size() == 4);
  s.record(4s, 10ms, true); // needs a 5th bucket: 2 s buckets
  CHECK(s.bucket_width() == 2s);
  REQUIRE(s.buckets().size() == 3);
  CHECK(s.buckets()[0].count() == 2);
  CHECK(s.buckets()[0].min() == 1ms);
  CHECK(s.buckets()[0].max() == 2ms);
  CHECK(s.buckets()[1].count() == 2);
  CHECK(s.buckets()[1].errors() == 1);
  CHECK(s.buckets()[2].count() == 1);
  // A jump far ahead coarsens as often as needed.
  s.record(100s, 1ms, true);
  CHECK(s.bucket_width() == 32s);
  CHECK(s.buckets().size() == 4);
  std::uint64_t total = 0;
  for (const auto& b : s.buckets()) total += b.count();
  CHECK(total == 6);

  time_series day(1s, 3600);
  for (int t = 0; t < 86400; t += 7) day.record(std::chrono::seconds(t), 1ms, true);
  CHECK(day.buckets().size() <= 3600);
  CHECK(day.bucket_width() == 32s);
}

TEST_CASE("time_series: merge of per-thread series, at different widths") {
  time_series a(1s, 4), b(1s, 4);
  a.record(0s, 1ms, true);
  a.record(1500ms, 2ms, true);
  b.record(500ms, 3ms, false);
  for (int t = 0; t < 8; ++t) b.record(std::chrono::seconds(t), 4ms, true); // b: 2 s buckets
  a.merge(b);
  CHECK(a.bucket_width() == 2s);
  REQUIRE(a.buckets().size() == 4);
  CHECK(a.buckets()[0].count() == 2 + 1 + 2);
  CHECK(a.buckets()[0].errors() == 1);
  CHECK(a.buckets()[3].count() == 2);
  CHECK(a.last_offset() == 7s);
  // Merging a finer series into a coarser one maps buckets by time.
  time_series c(1s, 4);
  c.record(3s, 5ms, true);
  a.merge(c);
  CHECK(a.buckets()[1].count() == 3);
  CHECK_THROWS_AS(a.merge(time_series(2s, 4)), std::invalid_argument);
  CHECK_THROWS_AS(time_series(0s, 4), std::invalid_argument);
  CHECK_THROWS_AS(time_series(1s, 1), std::invalid_argument);
}
