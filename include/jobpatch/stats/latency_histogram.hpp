#pragma once
// A log-linear (HDR-style) latency histogram: O(1) record, fixed memory, percentiles
// within 1% relative error. One per worker or per statistic; merge them for the report.
// Not thread-safe: each instance belongs to one thread.

#include <bit>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobpatch {

// The log-linear bucket layout: values below 2^bits have one bucket each; above, each
// octave [2^e, 2^(e+1)) is split into 2^(bits-1) equal buckets.
namespace histogram_layout {
// Top bits kept per value: an octave splits into 64 buckets, so a bucket spans at most
// 1/64 of its lower bound and its midpoint is within 1/128 (0.78%) of any member.
inline constexpr unsigned significant_bits = 7;
// Largest value tracked; larger ones are clamped to it.
inline constexpr std::chrono::nanoseconds max_trackable = std::chrono::hours(1);

// Index of the bucket holding v.
constexpr std::size_t bucket_index(std::uint64_t v) noexcept {
  if (v < (std::uint64_t{1} << significant_bits)) return static_cast<std::size_t>(v);
  unsigned e = 63u - static_cast<unsigned>(std::countl_zero(v)); // floor(log2 v) >= bits
  unsigned shift = e - (significant_bits - 1);
  return (std::size_t{shift} << (significant_bits - 1)) + static_cast<std::size_t>(v >> shift);
}
// Smallest value of bucket i (inverse of bucket_index).
constexpr std::uint64_t bucket_lower(std::size_t i) noexcept {
  if (i < (std::size_t{1} << significant_bits)) return i;
  unsigned shift = static_cast<unsigned>(i >> (significant_bits - 1)) - 1;
  std::uint64_t mantissa = i - (std::size_t{shift} << (significant_bits - 1));
  return mantissa << shift;
}
} // namespace histogram_layout

class latency_histogram {
public:
  static constexpr unsigned significant_bits = histogram_layout::significant_bits;
  // Largest value tracked; larger ones are clamped to it and counted in overflows().
  static constexpr std::chrono::nanoseconds max_trackable = histogram_layout::max_trackable;

  // One non-empty bucket as seen by for_each_bucket: values in [lower, upper].
  struct bucket {
    std::chrono::nanoseconds lower;
    std::chrono::nanoseconds upper;
    std::uint64_t count;
  };

  latency_histogram();

  // Records one duration. Negative durations count as 0 and in underflows().
  void record(std::chrono::nanoseconds value) noexcept {
    std::int64_t v = value.count();
    if (v < 0) [[unlikely]] {
      ++underflows_;
      v = 0;
    } else if (v > max_trackable.count()) [[unlikely]] {
      ++overflows_;
      v = max_trackable.count();
    }
    auto u = static_cast<std::uint64_t>(v);
    ++counts_[bucket_index(u)];
    ++count_;
    sum_ += u;
    if (u < min_) min_ = u;
    if (u > max_) max_ = u;
  }

  // Adds every value recorded by `other` (same layout, so bucket by bucket).
  void merge(const latency_histogram& other) noexcept;

  // Everything a histogram holds, in a form a file can carry: the non-empty buckets as
  // (index, count) in increasing index, plus the exact extremes and sum. Rebuilding from
  // it gives back the same histogram, so shards' histograms merge exactly.
  struct compact_form {
    std::vector<std::pair<std::uint32_t, std::uint64_t>> buckets;
    std::uint64_t min = 0, max = 0, sum = 0; // ns; min and max 0 when empty
    std::uint64_t overflows = 0, underflows = 0;
  };
  compact_form compact() const;
  // The histogram `form` describes; throws std::invalid_argument naming what is wrong (an
  // index out of the layout, indices not increasing, min or max outside the buckets).
  static latency_histogram from_compact(const compact_form& form);
  // Forgets everything; keeps the memory.
  void reset() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t overflows() const noexcept { return overflows_; }
  std::uint64_t underflows() const noexcept { return underflows_; }
  // Exact smallest / largest recorded value (after clamping); 0 when empty.
  std::chrono::nanoseconds min() const noexcept;
  std::chrono::nanoseconds max() const noexcept;
  // Exact mean of the recorded values (after clamping); 0 when empty.
  std::chrono::nanoseconds mean() const noexcept;
  // The value at quantile q in [0,1] (q=0.99 is p99): the smallest value with at least
  // ceil(q*count) values at or below it, reported as its bucket's midpoint clamped to
  // [min, max]. Out-of-range q is clamped; 0 when empty.
  std::chrono::nanoseconds percentile(double q) const noexcept;

  // Calls f(bucket) for each non-empty bucket in increasing order (for charts).
  template <class F>
  void for_each_bucket(F&& f) const {
    for (std::size_t i = 0; i < counts_.size(); ++i)
      if (counts_[i] != 0)
        f(bucket{std::chrono::nanoseconds(static_cast<std::int64_t>(bucket_lower(i))),
                 std::chrono::nanoseconds(static_cast<std::int64_t>(bucket_upper(i))), counts_[i]});
  }

  // Bucket layout (see histogram_layout), public for tests and raw-bucket exports.
  static constexpr std::size_t bucket_index(std::uint64_t v) noexcept {
    return histogram_layout::bucket_index(v);
  }
  static constexpr std::uint64_t bucket_lower(std::size_t i) noexcept {
    return histogram_layout::bucket_lower(i);
  }
  static constexpr std::uint64_t bucket_upper(std::size_t i) noexcept {
    return histogram_layout::bucket_lower(i + 1) - 1;
  }
  static constexpr std::size_t bucket_count =
      histogram_layout::bucket_index(
          static_cast<std::uint64_t>(histogram_layout::max_trackable.count())) +
      1;

private:
  std::vector<std::uint64_t> counts_; // bucket_count entries, allocated once
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0; // ns; overflows only after ~5 million hour-long samples
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  std::uint64_t overflows_ = 0;
  std::uint64_t underflows_ = 0;
};

class json_writer;

// Writes `key`: {"p50":..,"p90":..,"p99":..,"p999":..,"p9999":..,"max":..,"mean":..,
// "count":N} with the times in milliseconds (3 decimals): the latency object of every
// summary JSON.
void write_latency_json(json_writer& json, std::string_view key, const latency_histogram& h);

// Writes `key`: {"unit":"ns","layout":"log-linear-7","count":N,"min":..,"max":..,"sum":..,
// "overflows":N,"underflows":N,"buckets":[[index,count],...]}: the histogram itself, so
// that `jobpatch merge` rebuilds it (see latency_histogram::compact_form).
void write_histogram_json(json_writer& json, std::string_view key, const latency_histogram& h);
// The "layout" value of write_histogram_json: bucket indices mean something only with it.
inline constexpr std::string_view histogram_layout_name = "log-linear-7";

} // namespace jobpatch
