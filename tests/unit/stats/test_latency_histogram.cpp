#include <jobpatch/stats/latency_histogram.hpp>

#include <jobpatch/text/json_writer.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace jobpatch;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

// Exact value at quantile q with the histogram's rank rule (smallest with ceil(q*n) at or below).
std::int64_t exact_percentile(std::vector<std::int64_t> sorted, double q) {
  auto n = sorted.size();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  return sorted[rank - 1];
}

void check_against_exact(std::vector<std::int64_t> values, const char* name) {
  latency_histogram h;
  for (auto v : values) h.record(nanoseconds(v));
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0}) {
    double exact = static_cast<double>(exact_percentile(values, q));
    double got = static_cast<double>(h.percentile(q).count());
    double rel = std::abs(got - exact) / exact;
    CHECK_MESSAGE(rel <= 0.01, name, " q=", q, " exact=", exact, " got=", got);
  }
  CHECK(h.count() == values.size());
  CHECK(h.min().count() == values.front());
  CHECK(h.max().count() == values.back());
  long double sum = 0;
  for (auto v : values) sum += v;
  CHECK(std::abs(static_cast<double>(h.mean().count()) -
                 static_cast<double>(sum / values.size())) <= 1.0);
}

} // namespace

TEST_CASE("latency_histogram: bucket layout is contiguous and bounded in relative width") {
  CHECK(latency_histogram::bucket_index(0) == 0);
  CHECK(latency_histogram::bucket_index(127) == 127);
  CHECK(latency_histogram::bucket_index(128) == 128);
  CHECK(latency_histogram::bucket_index(129) == 128);
  CHECK(latency_histogram::bucket_index(130) == 129);
  for (std::size_t i = 0; i + 1 < latency_histogram::bucket_count; ++i) {
    auto lo = latency_histogram::bucket_lower(i), hi = latency_histogram::bucket_upper(i);
    REQUIRE(lo <= hi);
    REQUIRE(latency_histogram::bucket_index(lo) == i);
    REQUIRE(latency_histogram::bucket_index(hi) == i);
    REQUIRE(latency_histogram::bucket_lower(i + 1) == hi + 1);
    // Width relative to the lower bound: at most 1/64 (exact buckets below 128).
    REQUIRE((hi - lo + 1) * 64 <= std::max<std::uint64_t>(lo, 64));
  }
  auto last = latency_histogram::bucket_count - 1;
  CHECK(latency_histogram::bucket_lower(last) <= 3'600'000'000'000ull);
  CHECK(latency_histogram::bucket_upper(last) >= 3'600'000'000'000ull);
  // Fixed memory: a few thousand buckets for 0 .. 1 hour in nanoseconds.
  CHECK(latency_histogram::bucket_count < 3000);
}

TEST_CASE("latency_histogram: an empty histogram reports zeros") {
  latency_histogram h;
  CHECK(h.count() == 0);
  CHECK(h.min() == 0ns);
  CHECK(h.max() == 0ns);
  CHECK(h.mean() == 0ns);
  CHECK(h.percentile(0.5) == 0ns);
  int buckets = 0;
  h.for_each_bucket([&](const latency_histogram::bucket&) { ++buckets; });
  CHECK(buckets == 0);
}

TEST_CASE("latency_histogram: a single value is reported exactly") {
  latency_histogram h;
  h.record(1234567ns);
  CHECK(h.percentile(0) == 1234567ns); // clamped to [min, max]
  CHECK(h.percentile(0.5) == 1234567ns);
  CHECK(h.percentile(1) == 1234567ns);
  CHECK(h.mean() == 1234567ns);
}

TEST_CASE("latency_histogram: percentiles of sorted exact values") {
  std::vector<std::int64_t> v;
  for (std::int64_t i = 1; i <= 10000; ++i) v.push_back(i * 1000); // 1 µs .. 10 ms
  check_against_exact(v, "linear");
  latency_histogram h;
  for (auto x : v) h.record(nanoseconds(x));
  CHECK(std::abs(h.percentile(0.5).count() - 5'000'000) <= 50'000);
  CHECK(std::abs(h.percentile(0.99).count() - 9'900'000) <= 99'000);
}

TEST_CASE("latency_histogram: percentiles of a uniform distribution within 1%") {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::int64_t> d(1'000, 50'000'000);
  std::vector<std::int64_t> v(200000);
  for (auto& x : v) x = d(rng);
  check_against_exact(v, "uniform");
}

TEST_CASE("latency_histogram: percentiles of an exponential distribution within 1%") {
  std::mt19937_64 rng(2);
  std::exponential_distribution<double> d(1.0 / 2e6); // mean 2 ms
  std::vector<std::int64_t> v(200000);
  for (auto& x : v) x = 1000 + static_cast<std::int64_t>(d(rng));
  check_against_exact(v, "exponential");
}

TEST_CASE("latency_histogram: percentiles of a bimodal distribution within 1%") {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> fast(300e3, 30e3); // 300 µs
  std::normal_distribution<double> slow(80e6, 10e6);  // 80 ms
  std::bernoulli_distribution is_slow(0.05);
  std::vector<std::int64_t> v(200000);
  for (auto& x : v)
    x = std::max<std::int64_t>(1000,
                               static_cast<std::int64_t>(is_slow(rng) ? slow(rng) : fast(rng)));
  check_against_exact(v, "bimodal");
}

TEST_CASE("latency_histogram: out-of-range values are clamped and counted") {
  latency_histogram h;
  h.record(-5ns);
  h.record(2h);
  h.record(10ms);
  CHECK(h.count() == 3);
  CHECK(h.underflows() == 1);
  CHECK(h.overflows() == 1);
  CHECK(h.min() == 0ns);
  CHECK(h.max() == duration_cast<nanoseconds>(1h));
  CHECK(h.percentile(1.0) == duration_cast<nanoseconds>(1h));
  CHECK(h.percentile(0.0) == 0ns);
  // q outside [0,1] and NaN are clamped.
  CHECK(h.percentile(-1) == 0ns);
  CHECK(h.percentile(7) == duration_cast<nanoseconds>(1h));
  CHECK(h.percentile(std::nan("")) == 0ns);
}

TEST_CASE("latency_histogram: merge equals recording everything in one") {
  std::mt19937_64 rng(4);
  std::exponential_distribution<double> d(1.0 / 5e6);
  latency_histogram a, b, all;
  for (int i = 0; i < 50000; ++i) {
    auto v = nanoseconds(static_cast<std::int64_t>(d(rng)));
    (i % 3 ? a : b).record(v);
    all.record(v);
  }
  b.record(-1ns);
  all.record(-1ns);
  b.record(3h);
  all.record(3h);
  a.merge(b);
  CHECK(a.count() == all.count());
  CHECK(a.min() == all.min());
  CHECK(a.max() == all.max());
  CHECK(a.mean() == all.mean());
  CHECK(a.overflows() == 1);
  CHECK(a.underflows() == 1);
  for (double q : {0.5, 0.9, 0.99, 0.999}) CHECK(a.percentile(q) == all.percentile(q));
  // Merging an empty one changes nothing (its min must not win).
  latency_histogram empty;
  a.merge(empty);
  CHECK(a.min() == all.min());
  CHECK(a.count() == all.count());
}

TEST_CASE("latency_histogram: bucket iteration covers every value once, in order") {
  latency_histogram h;
  h.record(5ns);
  h.record(5ns);
  h.record(1ms);
  h.record(1s);
  std::vector<latency_histogram::bucket> seen;
  h.for_each_bucket([&](const latency_histogram::bucket& b) { seen.push_back(b); });
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].lower == 5ns);
  CHECK(seen[0].upper == 5ns);
  CHECK(seen[0].count == 2);
  CHECK(seen[1].lower <= 1ms);
  CHECK(seen[1].upper >= 1ms);
  CHECK(seen[2].lower <= 1s);
  CHECK(seen[2].upper >= 1s);
  CHECK(seen[1].upper < seen[2].lower);
}

TEST_CASE("latency_histogram: reset forgets everything") {
  latency_histogram h;
  h.record(3ms);
  h.record(-1ns);
  h.reset();
  CHECK(h.count() == 0);
  CHECK(h.underflows() == 0);
  CHECK(h.max() == 0ns);
  CHECK(h.percentile(0.5) == 0ns);
  h.record(7us);
  CHECK(h.min() == 7us);
}

namespace {

// Every percentile, the extremes, the mean and the count agree.
void check_same(const latency_histogram& a, const latency_histogram& b) {
  CHECK(a.count() == b.count());
  CHECK(a.min() == b.min());
  CHECK(a.max() == b.max());
  CHECK(a.mean() == b.mean());
  CHECK(a.overflows() == b.overflows());
  CHECK(a.underflows() == b.underflows());
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0})
    CHECK_MESSAGE(a.percentile(q) == b.percentile(q), "q=", q);
  auto ca = a.compact(), cb = b.compact();
  CHECK(ca.buckets == cb.buckets);
  CHECK(ca.sum == cb.sum);
}

} // namespace

TEST_CASE("latency_histogram: merging two equals one fed every value") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(13.0, 1.2); // ~0.4 ms median, long tail
  latency_histogram left, right, all;
  for (int i = 0; i < 20'000; ++i) {
    auto v = nanoseconds(static_cast<std::int64_t>(dist(rng)));
    (i % 3 == 0 ? left : right).record(v);
    all.record(v);
  }
  left.record(-1ns); // an underflow in one of them
  all.record(-1ns);
  latency_histogram merged = left;
  merged.merge(right);
  check_same(merged, all);
  // Merging an empty histogram changes nothing, either way round.
  latency_histogram empty;
  merged.merge(empty);
  check_same(merged, all);
  empty.merge(all);
  check_same(empty, all);
}

TEST_CASE("latency_histogram: the compact form rebuilds the same histogram, through JSON") {
  latency_histogram h;
  for (std::int64_t v : {3, 150, 151, 9'000, 1'200'000, 1'200'001, 77'000'000})
    h.record(nanoseconds(v));
  h.record(hours(2)); // clamped, an overflow
  auto form = h.compact();
  CHECK(form.buckets.size() == 6); // 150 and 151 share a bucket, as do 1'200'000 and 1'200'001
  check_same(latency_histogram::from_compact(form), h);

  std::string text;
  json_writer json(text);
  json.begin_object();
  write_histogram_json(json, "latencyHistogram", h);
  json.end_object();
  auto doc = boost::json::parse(text).as_object()["latencyHistogram"].as_object();
  CHECK(doc["unit"].as_string() == "ns");
  CHECK(doc["layout"].as_string() == histogram_layout_name);
  CHECK(doc["count"].to_number<std::uint64_t>() == 8);
  latency_histogram::compact_form read;
  read.min = doc["min"].to_number<std::uint64_t>();
  read.max = doc["max"].to_number<std::uint64_t>();
  read.sum = doc["sum"].to_number<std::uint64_t>();
  read.overflows = doc["overflows"].to_number<std::uint64_t>();
  read.underflows = doc["underflows"].to_number<std::uint64_t>();
  for (const auto& b : doc["buckets"].as_array())
    read.buckets.emplace_back(b.as_array()[0].to_number<std::uint32_t>(),
                              b.as_array()[1].to_number<std::uint64_t>());
  check_same(latency_histogram::from_compact(read), h);

  // An empty histogram round-trips to an empty one.
  check_same(latency_histogram::from_compact(latency_histogram().compact()), latency_histogram());
}

TEST_CASE("latency_histogram: a compact form that cannot be a histogram is refused") {
  latency_histogram h;
  h.record(1000ns);
  h.record(5000ns);
  auto good = h.compact();
  auto bad = good;
  bad.buckets.push_back({static_cast<std::uint32_t>(latency_histogram::bucket_count), 1});
  CHECK_THROWS_AS(latency_histogram::from_compact(bad), std::invalid_argument);
  bad = good;
  std::swap(bad.buckets[0], bad.buckets[1]); // not increasing
  CHECK_THROWS_AS(latency_histogram::from_compact(bad), std::invalid_argument);
  bad = good;
  bad.buckets[0].second = 0;
  CHECK_THROWS_AS(latency_histogram::from_compact(bad), std::invalid_argument);
  bad = good;
  bad.max = 9'000'000; // outside the last bucket
  CHECK_THROWS_AS(latency_histogram::from_compact(bad), std::invalid_argument);
  bad = {};
  bad.sum = 5;
  CHECK_THROWS_AS(latency_histogram::from_compact(bad), std::invalid_argument);
}
