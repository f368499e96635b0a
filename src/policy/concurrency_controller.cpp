#include <jobpatch/policy/concurrency_controller.hpp>

#include <algorithm>
#include <cmath>

namespace jobpatch {

using clock = concurrency_controller::clock;

namespace {
// An RTT below this (a clock that did not move) is taken as this, so that no gradient
// divides by zero.
constexpr double shortest_rtt_ns = 1000;

concurrency_config sane(concurrency_config c) noexcept {
  c.max_limit = std::max(c.max_limit, 1U);
  if (!(c.tolerance >= 0) || !std::isfinite(c.tolerance)) c.tolerance = 0.5;
  c.min_window_answers = std::max(c.min_window_answers, 1U);
  c.max_window_answers = std::max(c.max_window_answers, c.min_window_answers);
  if (!(c.min_gradient > 0 && c.min_gradient <= 1)) c.min_gradient = 0.5;
  if (!(c.max_gradient >= 1) || !std::isfinite(c.max_gradient)) c.max_gradient = 2.0;
  c.probe_answers = std::max(c.probe_answers, 1U);
  if (!(c.slow_start_exit >= 1) || !std::isfinite(c.slow_start_exit)) c.slow_start_exit = 1.1;
  if (!(c.probe_every_rtts >= 0) || !std::isfinite(c.probe_every_rtts)) c.probe_every_rtts = 100;
  if (!(c.decrease_factor > 0 && c.decrease_factor < 1)) c.decrease_factor = 0.5;
  c.throttle_answers = std::max(c.throttle_answers, 1U);
  return c;
}
} // namespace

concurrency_controller::concurrency_controller(const concurrency_config& config) noexcept
    : config_(sane(config)) {}

unsigned concurrency_controller::rounded_limit() const noexcept {
  double rounded = std::round(std::clamp(limit_, 1.0, static_cast<double>(config_.max_limit)));
  return static_cast<unsigned>(rounded);
}

unsigned concurrency_controller::limit() const noexcept {
  return probing_ ? probe_limit_ : rounded_limit();
}

// About one limit's worth of answers: each request in flight answered once, so the mean
// RTT and in-flight count are those of the limit just set.
unsigned concurrency_controller::window_answers() const noexcept {
  return std::clamp(limit(), config_.min_window_answers, config_.max_window_answers);
}

void concurrency_controller::restart_window(clock::time_point now) noexcept {
  window_start_ = now;
  answers_ = 0;
  rtt_sum_ns_ = 0;
  in_flight_sum_ = 0;
}

void concurrency_controller::set_limit(double limit) noexcept {
  limit_ = std::clamp(limit, 1.0, static_cast<double>(config_.max_limit));
}

void concurrency_controller::on_answer(clock::duration rtt, bool throttled, unsigned in_flight,
                                       clock::time_point now) noexcept {
  throttled_share_ += ((throttled ? 1.0 : 0.0) - throttled_share_) / config_.throttle_answers;
  const clock::time_point sent = now - std::max(rtt, clock::duration::zero());
  if (throttled) {
    // A throttle's RTT (rejected at once) says nothing about the server's queue.
    if (throttled_share_ >= config_.throttle_share && sent > last_decrease_) back_off(now);
    return;
  }
  if (sent < window_start_) return; // sent under an earlier limit
  const unsigned flight = std::max(in_flight, 1U);
  // While probing, only an answer sent at the probe's concurrency shows the no-load RTT
  // (those sent before the drain are stale anyway).
  if (probing_ && flight > probe_limit_) return;
  ++answers_;
  rtt_sum_ns_ += std::max(std::chrono::duration<double, std::nano>(rtt).count(), shortest_rtt_ns);
  in_flight_sum_ += flight;
  if (probing_) {
    if (answers_ >= std::max(config_.probe_answers, 2 * probe_limit_)) end_probe(now);
  } else if (answers_ >= window_answers()) {
    close_window(now);
  }
}

void concurrency_controller::back_off(clock::time_point now) noexcept {
  // The server said no at this limit: for a while the limit grows back only to just
  // below it. A server without a queue (503 beyond its parallelism) shows no RTT
  // rising before the knee, so the gradient alone would climb into a 503 storm again
  // every few windows; this way one storm per throttle_hold.
  ceiling_ = limit_;
  ceiling_until_ = now + config_.throttle_hold;
  last_decrease_ = now;
  slow_start_ = false;
  ++decreases_;
  set_limit(limit_ * config_.decrease_factor);
  // A probe goes on (its concurrency is already low) and ends at the lowered limit.
  if (!probing_) restart_window(now);
}

void concurrency_controller::close_window(clock::time_point now) noexcept {
  const double rtt = rtt_sum_ns_ / answers_;
  const double flight = in_flight_sum_ / answers_;
  last_window_ns_ = rtt;
  // A window well below the no-load RTT (beyond what jitter does to a mean of several
  // answers) proves the estimate stale, a faster server or a probe that met a hiccup:
  // measure again now, the limit unchanged, rather than aim at the old RTT until the next
  // probe.
  if (rtt < config_.stale_below * no_load_ns_) {
    start_probe(now);
    return;
  }
  const unsigned before = limit();
  const double target = no_load_ns_ * (1 + config_.tolerance);
  // Slow start ends with the first window that shows a queue (or a throttle). Jitter
  // may end it early, which only means growing by the gradient, × (1 + tolerance) a window.
  if (rtt > no_load_ns_ * config_.slow_start_exit) slow_start_ = false;
  // Slow start aims at max_gradient × the no-load RTT (doubling while there is no queue);
  // then the target is (1 + tolerance) × it. By Little's law, beyond the server's
  // parallelism K the mean RTT is (in flight / K) × the no-load RTT, so either way the new
  // limit is K × the aim's factor whatever the window measured: slow start does not pass
  // 2 K, even from a window with a queue too short to end it.
  const double aim = slow_start_ ? no_load_ns_ * config_.max_gradient : target;
  const double gradient = std::clamp(aim / rtt, config_.min_gradient, config_.max_gradient);
  // From the mean in flight, not the limit: a limit the engine did not fill (too little
  // work, or --rate) is not proof that more would be served as fast.
  double next = flight * gradient;
  if (now < ceiling_until_) next = std::min(next, std::max(ceiling_ - 1, 1.0));
  set_limit(next);
  if (!slow_start_ && now >= next_probe_) {
    start_probe(now);
    return;
  }
  // Answers still in flight were sent under the old limit: only a changed limit makes
  // them stale. After a rise, the first round sent under the new limit still finds the
  // old queue, shorter than the new limit's: it would show too low an RTT and invite
  // another rise (a doubling just past the knee looked like no queue twice in a row).
  // The window then counts only what was sent a round trip after the change.
  if (limit() > before) {
    restart_window(now + to_duration(rtt));
  } else if (limit() < before) {
    restart_window(now);
  } else {
    answers_ = 0;
    rtt_sum_ns_ = 0;
    in_flight_sum_ = 0;
  }
}

void concurrency_controller::start_probe(clock::time_point now) noexcept {
  probing_ = true;
  // About half the server's parallelism K when the limit has settled near K × (1 +
  // tolerance). A probe above K would measure a queue, p / K × the no-load RTT; the
  // limit would then settle near p × (1 + tolerance) and the next probe come at p / 2:
  // an overestimate halves at each probe rather than feeding itself.
  const double guess = limit_ / (2 * (1 + config_.tolerance));
  probe_limit_ = std::max(1U, static_cast<unsigned>(guess));
  restart_window(now);
}

void concurrency_controller::end_probe(clock::time_point now) noexcept {
  no_load_ns_ = rtt_sum_ns_ / answers_;
  probing_ = false;
  // The first probe is slow start's first window: the no-load RTT, met by definition.
  if (probes_ == 0 && slow_start_) set_limit(2.0 * probe_limit_);
  ++probes_;
  // A probe costs about two RTTs at half the concurrency: one per 100 no-load RTTs at
  // least keeps that near 1 % however slow the server.
  next_probe_ =
      now + std::max<clock::duration>(config_.probe_interval,
                                      to_duration(no_load_ns_ * config_.probe_every_rtts));
  // The limit rises back (or doubles): skip the first round, as after any rise.
  restart_window(now + to_duration(std::max(last_window_ns_, no_load_ns_)));
}

} // namespace jobpatch
