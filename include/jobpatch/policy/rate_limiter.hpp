#pragma once
// The global request pacer: a token bucket (as GCRA, one time stamp of state) that the
// engine asks "when may I send?", and that slows down when the server throttles (429/503)
// and recovers gradually. Pure: time is passed in. Not thread-safe: one per engine thread.

#include <chrono>
#include <cstdint>

namespace jobpatch {

// How the effective rate reacts to throttling (AIMD); defaults suit a single client.
struct adaptive_rate_config {
  bool enabled = true;
  double decrease_factor = 0.5; // multiplicative decrease on throttling
  // At most one decrease per interval: a burst of 429s answering requests that were all
  // sent before the first decrease must count once, not collapse the rate to the floor.
  std::chrono::milliseconds decrease_interval{500};
  double increase_step = 0.1; // additive increase, as a fraction of the ceiling...
  std::chrono::milliseconds increase_interval{1000}; // ...per interval without throttling
  double min_rate = 1.0;                             // floor in requests/s...
  double min_fraction = 0.05; // ...or this share of the ceiling, whichever is larger
};

class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  // `rate` in requests/s (0 = unlimited); `burst` = requests that may go at once after an
  // idle period (at least 1). Any window of one second then sees at most rate + burst sends.
  explicit rate_limiter(double rate = 0, double burst = 1,
                        const adaptive_rate_config& adaptive = {});

  // Takes one token and returns when the caller may send it: `now` when one is available,
  // else a later time the caller should sleep until. Tokens are handed out in call order.
  clock::time_point reserve(clock::time_point now) noexcept;

  // The server throttled us (429 or 503): lower the effective rate. With an unlimited
  // configured rate, the first throttle starts limiting from the send rate measured over
  // the last second; that measured rate is then the ceiling, and once recovery reaches
  // it the limiter is unlimited again.
  void on_throttled(clock::time_point now) noexcept;
  // An answer that was not throttled: recover one step per increase_interval.
  void on_success(clock::time_point now) noexcept;

  // A new configured rate and burst from now on (an operator's `rate R`; 0 = unlimited):
  // throttling is forgotten, and the schedule starts again at `now`, so tokens handed out
  // at the old rate do not hold later callers back (callers waiting on one should ask
  // again).
  void set_rate(double rate, double burst, clock::time_point now) noexcept;

  // Current effective rate in requests/s; 0 = unlimited.
  double effective_rate() const noexcept { return effective_rate_; }
  // The configured --rate; 0 = unlimited.
  double configured_rate() const noexcept { return configured_rate_; }
  // True while throttling keeps the rate below its ceiling.
  bool throttled() const noexcept { return effective_rate_ > 0 && effective_rate_ < ceiling_; }

private:
  void set_effective_rate(double rate) noexcept;
  void count_send(clock::time_point now) noexcept;
  double measured_rate(clock::time_point now) const noexcept;

  adaptive_rate_config adaptive_;
  double configured_rate_;
  double burst_;
  double effective_rate_;         // 0 = unlimited
  double ceiling_;                // configured rate, or the measured one when unlimited
  std::int64_t interval_ns_ = 0;  // time per token at the effective rate; 0 = unlimited
  std::int64_t tolerance_ns_ = 0; // GCRA tau: how far ahead of schedule a send may be
  clock::time_point tat_ = clock::time_point::min(); // theoretical arrival time of the next token
  clock::time_point last_decrease_ = clock::time_point::min();
  clock::time_point last_change_ = clock::time_point::min();
  // Send counting for the unlimited case: sends in the current and the previous second.
  clock::time_point window_start_ = clock::time_point::min();
  std::uint64_t sends_this_window_ = 0;
  std::uint64_t sends_last_window_ = 0;
};

// Decides when throttling answers (429/503) mean "too fast": when they are at least
// `threshold` of the answers of about the last `window` (exponentially decayed), with
// enough answers to judge. A server that rejects a steady few percent at random is not
// asking us to slow down (backing off would not change that share); one that rejects a
// large share is. Pure: time is passed in.
class throttle_monitor {
public:
  using clock = std::chrono::steady_clock;

  explicit throttle_monitor(double threshold = 0.25, double min_answers = 20,
                            std::chrono::milliseconds window = std::chrono::seconds(1)) noexcept;

  // Records one answer; true when it is a throttle and the recent share of throttles is
  // at or above the threshold: then the caller lowers its rate.
  bool record(bool throttled, clock::time_point now) noexcept;

  // Share of throttled answers over about the last window (0 when none recorded).
  double share() const noexcept { return answers_ > 0 ? throttled_ / answers_ : 0; }

private:
  double threshold_, min_answers_, window_s_;
  double answers_ = 0, throttled_ = 0;
  clock::time_point last_{};
};

} // namespace jobpatch
