#include <jobpatch/stats/latency_histogram.hpp>

#include <jobpatch/results/json_writer.hpp>

#include <algorithm>
#include <cmath>

namespace jobpatch {

using std::chrono::nanoseconds;

latency_histogram::latency_histogram() : counts_(bucket_count, 0) {}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  overflows_ += other.overflows_;
  underflows_ += other.underflows_;
}

void latency_histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = sum_ = max_ = overflows_ = underflows_ = 0;
  min_ = UINT64_MAX;
}

nanoseconds latency_histogram::min() const noexcept {
  return nanoseconds(count_ ? static_cast<std::int64_t>(min_) : 0);
}

nanoseconds latency_histogram::max() const noexcept {
  return nanoseconds(static_cast<std::int64_t>(max_));
}

nanoseconds latency_histogram::mean() const noexcept {
  if (count_ == 0) return nanoseconds(0);
  return nanoseconds(static_cast<std::int64_t>(
      std::llround(static_cast<double>(sum_) / static_cast<double>(count_))));
}

nanoseconds latency_histogram::percentile(double q) const noexcept {
  if (count_ == 0) return nanoseconds(0);
  if (!(q > 0)) q = 0; // also maps NaN to 0
  if (q > 1) q = 1;
  // Rank of the wanted value, 1-based; q=0 asks for the minimum.
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  if (rank == count_) return max(); // the top rank is known exactly
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      std::uint64_t lower = bucket_lower(i), upper = bucket_upper(i);
      std::uint64_t mid = lower + (upper - lower) / 2;
      return nanoseconds(static_cast<std::int64_t>(std::clamp(mid, min_, max_)));
    }
  }
  return max(); // unreachable: the counts add up to count_
}

void write_latency_json(json_writer& json, std::string_view key, const latency_histogram& h) {
  constexpr double quantiles[] = {0.5, 0.9, 0.99, 0.999, 0.9999};
  constexpr const char* keys[] = {"p50", "p90", "p99", "p999", "p9999"};
  auto ms = [](std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1e6; };
  json.begin_object(key);
  for (std::size_t i = 0; i < std::size(quantiles); ++i)
    json.fixed(keys[i], ms(h.percentile(quantiles[i])), 3);
  json.fixed("max", ms(h.max()), 3).fixed("mean", ms(h.mean()), 3).number("count", h.count());
  json.end_object();
}

} // namespace jobpatch
