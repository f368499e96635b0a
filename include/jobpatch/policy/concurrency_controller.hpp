#pragma once
// The adaptive concurrency limit of `apply --connections auto[:MAX]` (issue #27): how many
// requests may be in flight, learned from the latency of the answers. Pure: time is passed
// in. Not thread-safe: one per engine thread. Fixed-size state, nothing allocated.
//
// A gradient controller (after Envoy's adaptive concurrency filter and Netflix's
// concurrency-limits) aiming at a small standing queue at the server, as TCP Vegas does:
// - The no-load RTT is measured by a probe: the limit drops for a moment to about half the
//   server's estimated parallelism, and the mean RTT of the answers sent at that
//   concurrency (the engine tells `in_flight`) is the new estimate. A run starts with a
//   probe at 1, and probes again every `probe_interval`: under a standing queue no answer
//   shows the no-load RTT again, so a minimum kept from load would creep up (and the limit
//   with it), and a slower server must be noticed. A window well below the estimate (a
//   faster server) probes at once.
// - Slow start: after the first probe the limit doubles each window while the window's
//   mean RTT shows no queue, so a run begins low, not with a burst at MAX.
// - Then each window of about one limit's worth of answers (only those sent after the limit
//   last changed, and after a rise a round trip later) sets limit = mean in flight × target
//   / mean RTT, the gradient clamped to [min_gradient, max_gradient], with target = no-load
//   RTT × (1 + tolerance). By Little's law the mean RTT beyond the server's parallelism K
//   grows in proportion to the requests in flight, so the limit settles near
//   K × (1 + tolerance): a queue of about tolerance × K keeps every server busy while
//   answers travel, and the latency near the target.
// - Throttling (429/503) halves the limit when throttles are a large share of the recent
//   answers, and only for an answer to a request sent after the previous decrease (a burst
//   of 503s answering requests sent before it counts once); for a while after, the limit
//   grows back only to just below the one refused.

#include <chrono>
#include <cstdint>

namespace jobpatch {

struct concurrency_config {
  unsigned max_limit = 64; // the limit stays in [1, max_limit]
  // Target RTT = no-load RTT × (1 + tolerance): the limit settles near the server's
  // parallelism × (1 + tolerance), a standing queue of tolerance × parallelism.
  double tolerance = 0.5;
  // Slow start ends with a window whose mean RTT passes slow_start_exit × the no-load RTT.
  double slow_start_exit = 1.1;
  // A window closes after about one limit's worth of fresh answers, within these bounds.
  unsigned min_window_answers = 8;
  unsigned max_window_answers = 64;
  // Bounds of the gradient per window: how fast the limit may fall and rise (slow start
  // grows by max_gradient while there is no queue).
  double min_gradient = 0.5;
  double max_gradient = 2.0;
  // The no-load RTT is measured again by a probe every probe_interval, or every
  // probe_every_rtts no-load RTTs if that is longer (a probe costs about two RTTs at half
  // the limit), and at once after a window whose mean RTT is below stale_below × the
  // estimate. A probe runs at about half the server's estimated parallelism
  // (limit / (2 × (1 + tolerance)), at least 1) over at least probe_answers answers and
  // two rounds of its concurrency.
  std::chrono::milliseconds probe_interval{2000};
  double probe_every_rtts = 100;
  double stale_below = 0.8;
  unsigned probe_answers = 8;
  // Throttling: the limit is multiplied by decrease_factor when a throttled answer comes and
  // throttles are at least throttle_share of the recent answers (a moving average over
  // about throttle_answers answers, so a burst of ten or so 503s is enough): a server
  // rejecting a steady few percent is not asking for less concurrency; one rejecting many
  // at once is. Counted in answers, not time: a 503 storm is many fast answers.
  double decrease_factor = 0.5;
  double throttle_share = 0.25;
  unsigned throttle_answers = 32;
  // After a decrease, for this long the limit grows back only to one below the limit the
  // server refused.
  std::chrono::milliseconds throttle_hold{2000};
};

class concurrency_controller {
public:
  using clock = std::chrono::steady_clock;

  explicit concurrency_controller(const concurrency_config& config = {}) noexcept;

  // One answered request: `rtt` from send to answer; `throttled` for 429/503 answers;
  // `in_flight` = requests in flight when it was sent, counting itself (0 is taken as 1).
  // Transport failures (no answer) are not reported.
  void on_answer(clock::duration rtt, bool throttled, unsigned in_flight,
                 clock::time_point now) noexcept;

  // Requests allowed in flight now, 1..max_limit.
  unsigned limit() const noexcept;

  // For the summary and tests.
  // The no-load RTT estimate (zero until the first probe ends).
  clock::duration no_load_rtt() const noexcept { return to_duration(no_load_ns_); }
  // The mean RTT of the last closed window (zero before the first).
  clock::duration window_rtt() const noexcept { return to_duration(last_window_ns_); }
  bool probing() const noexcept { return probing_; }
  bool in_slow_start() const noexcept { return slow_start_; }
  std::uint64_t probes() const noexcept { return probes_; }       // probes ended
  std::uint64_t decreases() const noexcept { return decreases_; } // throttle decreases

private:
  static clock::duration to_duration(double ns) noexcept {
    return std::chrono::duration_cast<clock::duration>(
        std::chrono::duration<double, std::nano>(ns));
  }
  unsigned rounded_limit() const noexcept;
  unsigned window_answers() const noexcept;
  void restart_window(clock::time_point now) noexcept;
  void back_off(clock::time_point now) noexcept;
  void close_window(clock::time_point now) noexcept;
  void start_probe(clock::time_point now) noexcept;
  void end_probe(clock::time_point now) noexcept;
  void set_limit(double limit) noexcept;

  concurrency_config config_;
  double limit_ = 1;           // the steady-state limit (kept while probing)
  unsigned probe_limit_ = 1;   // the limit while probing
  bool probing_ = true;        // a run starts by measuring the no-load RTT at 1
  bool slow_start_ = true;     // until a window shows a queue, or a throttle
  double no_load_ns_ = 0;      // 0 = not measured yet
  double last_window_ns_ = 0;  // mean RTT of the last closed window
  double throttled_share_ = 0; // moving average of throttled answers (1) among all (0)
  // Answers to requests sent before this are stale: sent under another limit.
  clock::time_point window_start_ = clock::time_point::min();
  clock::time_point last_decrease_ = clock::time_point::min();
  clock::time_point next_probe_ = clock::time_point::max();
  double ceiling_ = 0; // the limit last refused, held until ceiling_until_
  clock::time_point ceiling_until_ = clock::time_point::min();
  // The current window (or probe): fresh unthrottled answers, their RTTs and in-flight counts.
  unsigned answers_ = 0;
  double rtt_sum_ns_ = 0;
  double in_flight_sum_ = 0;
  std::uint64_t probes_ = 0;
  std::uint64_t decreases_ = 0;
};

} // namespace jobpatch
