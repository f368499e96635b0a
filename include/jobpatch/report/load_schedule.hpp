#pragma once
// When each request of an open-loop benchmark is meant to be sent (`jobpatch bench --rate
// R --duration S`). Latency is measured from these intended times, not from the actual
// send, so a stalled client cannot hide its own stalls (no coordinated omission). Pure:
// the start time is passed in. Immutable after construction, so safe to share read-only.

#include <chrono>
#include <cstdint>
#include <string_view>

namespace jobpatch {

// A --rate value: constant (`start == end`) or a linear ramp from `start` to `end`
// requests/s over the run's duration. Both are positive and finite.
struct rate_spec {
  double start = 1;
  double end = 1;

  // True for "A:B" with A != B.
  bool is_ramp() const noexcept { return start != end; }
  friend bool operator==(const rate_spec&, const rate_spec&) = default;
};

// Parses "R" (e.g. "500", "0.5", "1e3") or "A:B" (a ramp, e.g. "100:1000"). Throws
// std::invalid_argument with a message naming the bad text and the expected form.
rate_spec parse_rate_spec(std::string_view text);

class load_schedule {
public:
  using clock = std::chrono::steady_clock;

  // Requests at `rate` from `start` for `duration` (> 0). Throws std::invalid_argument
  // for a non-positive duration or rate, or a run of more than 2^53 requests.
  load_schedule(rate_spec rate, std::chrono::nanoseconds duration, clock::time_point start);

  // Number of requests whose intended time falls in [start, start + duration).
  std::uint64_t total_requests() const noexcept { return total_; }

  // Intended send time of request i (i = 0 is at the start). O(1): for a ramp this is the
  // closed-form solution of integral_0^t rate = i. Past total_requests() the schedule
  // continues at the final rate, so callers need no special case.
  clock::time_point intended_time(std::uint64_t i) const noexcept { return start_ + offset(i); }
  // The same, as an offset from the start.
  std::chrono::nanoseconds offset(std::uint64_t i) const noexcept;

  // How many requests are due by `now` (intended time <= now), capped at total_requests();
  // lets the engine see how far behind schedule it is.
  std::uint64_t due_by(clock::time_point now) const noexcept;

  // Intended rate (requests/s) at `offset` into the run (the final rate past the end).
  double rate_at(std::chrono::nanoseconds offset) const noexcept;

  const rate_spec& rate() const noexcept { return rate_; }
  std::chrono::nanoseconds duration() const noexcept { return duration_; }
  clock::time_point start() const noexcept { return start_; }

private:
  // Requests intended in [0, t] seconds: the integral of the rate (continuous).
  double cumulative(double seconds) const noexcept;

  rate_spec rate_;
  std::chrono::nanoseconds duration_;
  clock::time_point start_;
  double seconds_;  // duration in seconds
  double slope_;    // d(rate)/dt in requests/s^2; 0 for a constant rate
  double expected_; // cumulative(seconds_): requests in the whole run, unrounded
  std::uint64_t total_;
};

} // namespace jobpatch
