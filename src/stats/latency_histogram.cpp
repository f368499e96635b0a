#include <jobpatch/stats/latency_histogram.hpp>

#include <jobpatch/text/json_writer.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

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

latency_histogram::compact_form latency_histogram::compact() const {
  compact_form form;
  for (std::size_t i = 0; i < bucket_count; ++i)
    if (counts_[i] != 0) form.buckets.emplace_back(static_cast<std::uint32_t>(i), counts_[i]);
  form.min = count_ ? min_ : 0;
  form.max = max_;
  form.sum = sum_;
  form.overflows = overflows_;
  form.underflows = underflows_;
  return form;
}

latency_histogram latency_histogram::from_compact(const compact_form& form) {
  latency_histogram h;
  std::size_t previous = 0;
  for (std::size_t k = 0; k < form.buckets.size(); ++k) {
    auto [index, count] = form.buckets[k];
    if (index >= bucket_count)
      throw std::invalid_argument("bucket index " + std::to_string(index) +
                                  " is outside the histogram layout (0.." +
                                  std::to_string(bucket_count - 1) + ")");
    if (k > 0 && index <= previous)
      throw std::invalid_argument("bucket indices must increase (" + std::to_string(index) +
                                  " after " + std::to_string(previous) + ")");
    if (count == 0 || h.count_ + count < h.count_)
      throw std::invalid_argument("bucket " + std::to_string(index) + " has a bad count");
    previous = index;
    h.counts_[index] = count;
    h.count_ += count;
  }
  if (h.count_ == 0) {
    if (form.min || form.max || form.sum)
      throw std::invalid_argument("an empty histogram with a min, max or sum");
    return h;
  }
  // min and max must fall in the first and last non-empty bucket: they clamp percentiles.
  auto first = form.buckets.front().first, last = form.buckets.back().first;
  if (bucket_index(form.min) != first || bucket_index(form.max) != last)
    throw std::invalid_argument("min or max outside the histogram's buckets");
  h.min_ = form.min;
  h.max_ = form.max;
  h.sum_ = form.sum;
  h.overflows_ = form.overflows;
  h.underflows_ = form.underflows;
  return h;
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

void write_histogram_json(json_writer& json, std::string_view key, const latency_histogram& h) {
  auto form = h.compact();
  json.begin_object(key)
      .string("unit", "ns")
      .string("layout", histogram_layout_name)
      .number("count", h.count())
      .number("min", form.min)
      .number("max", form.max)
      .number("sum", form.sum)
      .number("overflows", form.overflows)
      .number("underflows", form.underflows)
      .begin_array("buckets");
  for (auto [index, count] : form.buckets)
    json.begin_array().element(index).element(count).end_array();
  json.end_array().end_object();
}

} // namespace jobpatch
