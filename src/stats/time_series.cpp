#include <jobpatch/stats/time_series.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace jobpatch {
namespace {

std::uint32_t saturating_add(std::uint32_t a, std::uint64_t b) noexcept {
  std::uint64_t s = a + b;
  return s > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(s);
}

} // namespace

unsigned time_bucket::counter_index(std::chrono::nanoseconds latency) noexcept {
  auto v = static_cast<double>(latency.count());
  if (v < static_cast<double>(std::int64_t{1} << lowest_octave)) return 0;
  // floor(4 * log2 v) with quarter-octave boundaries at exact ratios of 2^(1/4).
  double position = (std::log2(v) - lowest_octave) * counters_per_octave;
  auto i = static_cast<unsigned>(position);
  return std::min(i, counter_count - 1);
}

void time_bucket::record(std::chrono::nanoseconds latency, bool ok) noexcept {
  std::int64_t v = std::max<std::int64_t>(latency.count(), 0);
  ++count_;
  if (!ok) ++errors_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  auto& c = counters_[counter_index(std::chrono::nanoseconds(v))];
  c = saturating_add(c, 1);
}

void time_bucket::merge(const time_bucket& other) noexcept {
  if (other.count_ == 0) return;
  count_ += other.count_;
  errors_ += other.errors_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  for (unsigned i = 0; i < counter_count; ++i)
    counters_[i] = saturating_add(counters_[i], other.counters_[i]);
}

std::chrono::nanoseconds time_bucket::min() const noexcept {
  return std::chrono::nanoseconds(count_ ? min_ : 0);
}

std::chrono::nanoseconds time_bucket::max() const noexcept {
  return std::chrono::nanoseconds(max_);
}

std::chrono::nanoseconds time_bucket::mean() const noexcept {
  return std::chrono::nanoseconds(count_ ? sum_ / static_cast<std::int64_t>(count_) : 0);
}

std::chrono::nanoseconds time_bucket::percentile(double q) const noexcept {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  q = std::clamp(std::isnan(q) ? 0.0 : q, 0.0, 1.0);
  // The counters may have saturated, so rank against their own total.
  std::uint64_t total = 0;
  for (auto c : counters_) total += c;
  auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))));
  std::uint64_t seen = 0;
  unsigned i = 0;
  for (; i < counter_count; ++i) {
    seen += counters_[i];
    if (seen >= rank) break;
  }
  double mid = std::exp2(lowest_octave + (i + 0.5) / counters_per_octave);
  auto estimate = static_cast<std::int64_t>(std::llround(mid));
  return std::chrono::nanoseconds(std::clamp(estimate, min_, max_));
}

time_series::time_series(std::chrono::nanoseconds bucket_width, std::size_t max_buckets)
    : initial_width_(bucket_width), width_(bucket_width),
      max_buckets_(max_buckets + max_buckets % 2) {
  if (bucket_width.count() <= 0)
    throw std::invalid_argument("time_series: bucket width must be positive");
  if (max_buckets < 2) throw std::invalid_argument("time_series: need at least 2 buckets");
}

void time_series::record(std::chrono::nanoseconds offset, std::chrono::nanoseconds latency,
                         bool ok) {
  if (offset.count() < 0) offset = std::chrono::nanoseconds(0);
  last_offset_ = std::max(last_offset_, offset);
  auto index = static_cast<std::size_t>(offset / width_);
  while (index >= max_buckets_) {
    coarsen();
    index = static_cast<std::size_t>(offset / width_);
  }
  if (index >= buckets_.size()) buckets_.resize(index + 1);
  buckets_[index].record(latency, ok);
}

void time_series::coarsen() {
  std::size_t n = (buckets_.size() + 1) / 2;
  for (std::size_t i = 0; i < n; ++i) {
    time_bucket merged = buckets_[2 * i];
    if (2 * i + 1 < buckets_.size()) merged.merge(buckets_[2 * i + 1]);
    buckets_[i] = merged;
  }
  buckets_.resize(n);
  width_ *= 2;
}

void time_series::merge(const time_series& other) {
  if (other.initial_width_ != initial_width_ || other.max_buckets_ != max_buckets_)
    throw std::invalid_argument("time_series: merging series with different layouts");
  while (width_ < other.width_) coarsen();
  // Each of other's buckets covers `ratio` of ours... or ours covers several of theirs.
  auto ratio = static_cast<std::size_t>(width_ / other.width_);
  auto other_buckets = other.buckets();
  std::size_t needed = (other_buckets.size() + ratio - 1) / ratio;
  if (needed > buckets_.size()) buckets_.resize(needed);
  for (std::size_t i = 0; i < other_buckets.size(); ++i)
    buckets_[i / ratio].merge(other_buckets[i]);
  last_offset_ = std::max(last_offset_, other.last_offset_);
}

} // namespace jobpatch
