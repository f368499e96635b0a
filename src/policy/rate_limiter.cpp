#include <jobpatch/policy/rate_limiter.hpp>

#include <algorithm>
#include <cmath>

namespace jobpatch {

using clock = rate_limiter::clock;
using std::chrono::nanoseconds;

namespace {
constexpr auto count_window = std::chrono::seconds(1);
// Rates below this are treated as this (one request per ~11.6 days), keeping intervals finite.
constexpr double slowest_rate = 1e-6;

double sane_rate(double r) noexcept { return (r > 0 && std::isfinite(r)) ? r : 0.0; }

std::int64_t interval_for(double rate) noexcept {
  if (rate <= 0) return 0;
  // Rounded up: a token never comes sooner than 1/rate, so the rate is never exceeded.
  return static_cast<std::int64_t>(std::ceil(1e9 / std::max(rate, slowest_rate)));
}
} // namespace

rate_limiter::rate_limiter(double rate, double burst, const adaptive_rate_config& adaptive)
    : adaptive_(adaptive), configured_rate_(sane_rate(rate)),
      burst_(burst >= 1 && std::isfinite(burst) ? burst : 1.0), effective_rate_(configured_rate_),
      ceiling_(configured_rate_) {
  set_effective_rate(configured_rate_);
}

void rate_limiter::set_rate(double rate, double burst, clock::time_point now) noexcept {
  configured_rate_ = ceiling_ = sane_rate(rate);
  burst_ = burst >= 1 && std::isfinite(burst) ? burst : 1.0;
  set_effective_rate(configured_rate_);
  tat_ = now;
  last_decrease_ = last_change_ = clock::time_point::min();
}

void rate_limiter::set_effective_rate(double rate) noexcept {
  effective_rate_ = rate;
  interval_ns_ = interval_for(rate);
  // The tolerance (in time) stays that of the configured rate, so while throttled the
  // burst shrinks in tokens with the rate: bursts are what trip a server's limiter.
  double basis = configured_rate_ > 0 ? static_cast<double>(interval_for(configured_rate_))
                                      : static_cast<double>(interval_ns_);
  tolerance_ns_ = static_cast<std::int64_t>((burst_ - 1.0) * basis);
}

void rate_limiter::count_send(clock::time_point now) noexcept {
  if (now >= window_start_ + count_window || window_start_ == clock::time_point::min()) {
    bool adjacent =
        window_start_ != clock::time_point::min() && now < window_start_ + 2 * count_window;
    sends_last_window_ = adjacent ? sends_this_window_ : 0;
    sends_this_window_ = 0;
    window_start_ = adjacent ? window_start_ + count_window : now;
  }
  ++sends_this_window_;
}

double rate_limiter::measured_rate(clock::time_point now) const noexcept {
  if (window_start_ == clock::time_point::min()) return 0;
  if (now >= window_start_ + 2 * count_window) return 0; // nothing sent for over a second
  // The current partial second counts from at least 100 ms, so a few sends right after
  // a window starts do not look like a huge rate.
  double elapsed = std::max(0.1, std::chrono::duration<double>(now - window_start_).count());
  double current = now < window_start_ + count_window
                       ? static_cast<double>(sends_this_window_) / elapsed
                       : static_cast<double>(sends_this_window_);
  return std::max(static_cast<double>(sends_last_window_), current);
}

clock::time_point rate_limiter::reserve(clock::time_point now) noexcept {
  if (configured_rate_ == 0 && adaptive_.enabled) count_send(now);
  if (interval_ns_ == 0) return now;
  clock::time_point tat = std::max(tat_, now);
  clock::time_point send = std::max(now, tat - nanoseconds(tolerance_ns_));
  tat_ = tat + nanoseconds(interval_ns_);
  return send;
}

void rate_limiter::on_throttled(clock::time_point now) noexcept {
  if (!adaptive_.enabled) return;
  if (last_decrease_ != clock::time_point::min() &&
      now - last_decrease_ < adaptive_.decrease_interval)
    return;
  double from = effective_rate_;
  if (from == 0) {
    // Unlimited until now: start from what we were actually sending.
    ceiling_ = std::max(measured_rate(now), adaptive_.min_rate);
    from = ceiling_;
  }
  double floor = std::max(adaptive_.min_rate, adaptive_.min_fraction * ceiling_);
  set_effective_rate(std::max(std::min(floor, ceiling_), from * adaptive_.decrease_factor));
  last_decrease_ = last_change_ = now;
}

void rate_limiter::on_success(clock::time_point now) noexcept {
  if (!throttled()) return; // the common case: one comparison
  if (now - last_change_ < adaptive_.increase_interval) return;
  double next = effective_rate_ + adaptive_.increase_step * ceiling_;
  if (next >= ceiling_) {
    // Fully recovered: back to the configured rate (0 = unlimited again).
    ceiling_ = configured_rate_ > 0 ? configured_rate_ : ceiling_;
    set_effective_rate(configured_rate_ > 0 ? configured_rate_ : 0.0);
  } else {
    set_effective_rate(next);
  }
  last_change_ = now;
}

throttle_monitor::throttle_monitor(double threshold, double min_answers,
                                   std::chrono::milliseconds window) noexcept
    : threshold_(threshold), min_answers_(min_answers),
      window_s_(std::max(1e-3, std::chrono::duration<double>(window).count())) {}

bool throttle_monitor::record(bool throttled, clock::time_point now) noexcept {
  if (last_ != clock::time_point{}) {
    double dt = std::chrono::duration<double>(now - last_).count();
    double keep = dt > 0 ? std::exp(-dt / window_s_) : 1.0;
    answers_ *= keep;
    throttled_ *= keep;
  }
  last_ = now;
  answers_ += 1;
  if (throttled) throttled_ += 1;
  return throttled && answers_ >= min_answers_ && throttled_ >= threshold_ * answers_;
}

} // namespace jobpatch
