#pragma once
// Per-interval counts and latency estimates over a run (throughput and p50/p99 over time
// for the report). Fixed memory for any run length: when the run outlasts max_buckets
// buckets, adjacent buckets merge pairwise and the bucket width doubles.
// Not thread-safe: one per thread; merge() per-thread series at the end.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace jobpatch {

// One interval of a time_series: counts, exact min/max/sum, and a coarse log histogram
// (4 counters per octave from 4 us to 69 s) good for percentiles within ~9%.
class time_bucket {
public:
  // Four counters per power of two: each spans a ratio of 2^(1/4), so the geometric
  // midpoint is within 2^(1/8) - 1 = 9% of any value in it.
  static constexpr unsigned counters_per_octave = 4;
  static constexpr unsigned counter_count = 96; // 24 octaves
  // Values below 2^12 ns (4.1 us) share the first counter, above 2^36 ns (69 s) the last;
  // the exact min and max keep estimates at the ends honest.
  static constexpr unsigned lowest_octave = 12;

  // Adds one completed request.
  void record(std::chrono::nanoseconds latency, bool ok) noexcept;
  // Adds everything in `other`.
  void merge(const time_bucket& other) noexcept;

  // Requests that completed in this interval, and those among them that failed.
  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t errors() const noexcept { return errors_; }
  // Exact; 0 when empty.
  std::chrono::nanoseconds min() const noexcept;
  std::chrono::nanoseconds max() const noexcept;
  std::chrono::nanoseconds sum() const noexcept { return std::chrono::nanoseconds(sum_); }
  std::chrono::nanoseconds mean() const noexcept;
  // Estimated value at quantile q in [0,1] (within ~9%, clamped to [min, max]); 0 when empty.
  std::chrono::nanoseconds percentile(double q) const noexcept;

  // Counter index of a latency (public for tests).
  static unsigned counter_index(std::chrono::nanoseconds latency) noexcept;

private:
  std::uint64_t count_ = 0;
  std::uint64_t errors_ = 0;
  std::int64_t sum_ = 0;
  std::int64_t min_ = INT64_MAX;
  std::int64_t max_ = 0;
  // 32-bit to keep a bucket at ~420 bytes; saturates rather than wraps (count_ is exact).
  std::array<std::uint32_t, counter_count> counters_{};
};

class time_series {
public:
  // Buckets of `bucket_width` (> 0) from the run's start, at most `max_buckets` (>= 2,
  // rounded up to even) of them. Throws std::invalid_argument otherwise.
  explicit time_series(std::chrono::nanoseconds bucket_width = std::chrono::seconds(1),
                       std::size_t max_buckets = 3600);

  // One request that completed `offset` after the run's start (negative counts as 0)
  // with `latency`; `ok` false counts it as an error.
  void record(std::chrono::nanoseconds offset, std::chrono::nanoseconds latency, bool ok);

  // Adds another series of the same run (same start); the result has the wider of the
  // two bucket widths. Both must have been built with the same initial width and limit.
  void merge(const time_series& other);

  // Current width of every bucket (the initial width times a power of two).
  std::chrono::nanoseconds bucket_width() const noexcept { return width_; }
  // Buckets from the start up to the last one recorded into; bucket i covers
  // [i * bucket_width(), (i + 1) * bucket_width()). Empty intervals are present, zeroed.
  std::span<const time_bucket> buckets() const noexcept { return buckets_; }
  // Start offset of bucket i.
  std::chrono::nanoseconds bucket_start(std::size_t i) const noexcept {
    return width_ * static_cast<std::int64_t>(i);
  }
  // Latest offset recorded (the last bucket is only covered up to here); 0 when empty.
  std::chrono::nanoseconds last_offset() const noexcept { return last_offset_; }
  std::size_t max_buckets() const noexcept { return max_buckets_; }

private:
  // Halves the number of buckets by merging pairs; doubles the width.
  void coarsen();

  std::chrono::nanoseconds initial_width_;
  std::chrono::nanoseconds width_;
  std::size_t max_buckets_;
  std::chrono::nanoseconds last_offset_{0};
  std::vector<time_bucket> buckets_;
};

} // namespace jobpatch
