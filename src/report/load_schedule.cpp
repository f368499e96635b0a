#include <jobpatch/report/load_schedule.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

namespace jobpatch {
namespace {

// Above this a double no longer counts requests exactly.
constexpr double max_requests = 9007199254740992.0; // 2^53

std::invalid_argument rate_error(std::string_view text, const char* why) {
  return std::invalid_argument("invalid --rate \"" + std::string(text) + "\": " + why +
                               " (expected requests per second, e.g. 500, or START:END for "
                               "a linear ramp, e.g. 100:1000)");
}

double parse_positive(std::string_view whole, std::string_view part) {
  if (part.empty()) throw rate_error(whole, "missing number");
  double v = 0;
  auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
  if (ec == std::errc::result_out_of_range) throw rate_error(whole, "number out of range");
  if (ec != std::errc{} || ptr != part.data() + part.size())
    throw rate_error(whole, "not a number");
  if (!std::isfinite(v)) throw rate_error(whole, "must be finite");
  if (v <= 0) throw rate_error(whole, "must be greater than 0");
  return v;
}

} // namespace

rate_spec parse_rate_spec(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    double r = parse_positive(text, text);
    return {r, r};
  }
  if (text.find(':', colon + 1) != std::string_view::npos)
    throw rate_error(text, "more than one ':'");
  return {parse_positive(text, text.substr(0, colon)),
          parse_positive(text, text.substr(colon + 1))};
}

load_schedule::load_schedule(rate_spec rate, std::chrono::nanoseconds duration,
                             clock::time_point start)
    : rate_(rate), duration_(duration), start_(start) {
  if (!(rate.start > 0) || !(rate.end > 0) || !std::isfinite(rate.start) ||
      !std::isfinite(rate.end))
    throw std::invalid_argument("load_schedule: rates must be positive and finite");
  if (duration.count() <= 0)
    throw std::invalid_argument("load_schedule: duration must be positive");
  seconds_ = static_cast<double>(duration.count()) / 1e9;
  slope_ = (rate.end - rate.start) / seconds_;
  expected_ = cumulative(seconds_);
  if (!(expected_ < max_requests))
    throw std::invalid_argument("load_schedule: rate times duration is too large");
  // Request i is in the run when its time t_i < duration, i.e. i < expected_. The small
  // tolerance keeps 0.1/s for 30 s at 3 requests, not 4 from 3.0000000000000004.
  total_ = static_cast<std::uint64_t>(std::ceil(expected_ - 1e-9 * std::max(1.0, expected_)));
}

double load_schedule::cumulative(double t) const noexcept {
  return rate_.start * t + 0.5 * slope_ * t * t;
}

std::chrono::nanoseconds load_schedule::offset(std::uint64_t i) const noexcept {
  double n = static_cast<double>(i);
  double seconds;
  if (!rate_.is_ramp()) {
    seconds = n / rate_.start;
  } else if (n <= expected_) {
    // Solve start*t + slope/2*t^2 = n. This form of the quadratic root has no
    // cancellation when the slope is tiny, and the discriminant stays >= end^2 > 0
    // for n <= expected_ even when the ramp goes down.
    double disc = rate_.start * rate_.start + 2 * slope_ * n;
    seconds = 2 * n / (rate_.start + std::sqrt(std::max(disc, 0.0)));
  } else {
    seconds = seconds_ + (n - expected_) / rate_.end;
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(seconds * 1e9)));
}

std::uint64_t load_schedule::due_by(clock::time_point now) const noexcept {
  if (now < start_) return 0;
  double t = std::min(static_cast<double>((now - start_).count()) / 1e9, seconds_);
  // Requests 0..floor(cumulative(t)) are due; offsets are rounded to the nanosecond, so
  // check the boundary request against offset() itself to agree with intended_time().
  auto n = static_cast<std::uint64_t>(std::floor(cumulative(t))) + 1;
  while (n > 0 && start_ + offset(n - 1) > now) --n;
  while (n < total_ && start_ + offset(n) <= now) ++n;
  return std::min(n, total_);
}

double load_schedule::rate_at(std::chrono::nanoseconds at) const noexcept {
  double t = std::clamp(static_cast<double>(at.count()) / 1e9, 0.0, seconds_);
  return rate_.start + slope_ * t;
}

} // namespace jobpatch
