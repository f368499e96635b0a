#include <jobpatch/policy/retry_policy.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace jobpatch {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using time_point = std::chrono::steady_clock::time_point;

namespace {
constexpr std::array<std::string_view, 8> reason_names = {
    "",
    "not retryable",
    "unauthorized after a token refresh",
    "no attempts left",
    "the deadline would pass before the retry",
    "retry budget exhausted",
    "Retry-After longer than allowed",
    "cancelled",
};

bool is_transport(error_class c) noexcept {
  switch (c) {
  case error_class::connect_refused:
  case error_class::connect_failed:
  case error_class::resolve:
  case error_class::tls_handshake:
  case error_class::timeout:
  case error_class::reset:
  case error_class::truncated:
  case error_class::malformed_response: // PATCH sets absolute values: repeating is safe
    return true;
  default:
    return false;
  }
}

retry_decision finish(final_reason why) noexcept { return {retry_action::final, why, {}}; }
} // namespace

std::string_view to_string(final_reason r) noexcept {
  auto i = static_cast<std::size_t>(r);
  return i < reason_names.size() ? reason_names[i] : std::string_view("unknown");
}

bool is_retryable(attempt_outcome outcome, const retry_config& config) noexcept {
  if (outcome.cls == error_class::http_status) {
    switch (outcome.status) {
    case 500:
    case 503:
    case 401:
      return true;
    case 429:
      return config.retry_429;
    case 502:
    case 504:
      return config.retry_502_504;
    default:
      return false;
    }
  }
  return config.retry_transport && is_transport(outcome.cls);
}

// --- retry_budget -----------------------------------------------------------------------

retry_budget::retry_budget(double ratio, double min_per_second, milliseconds window) noexcept
    : ratio_(std::max(0.0, ratio)),
      window_s_(std::max(0.001, std::chrono::duration<double>(window).count())) {
  reserve_ = std::max(0.0, min_per_second) * window_s_;
}

void retry_budget::decay(time_point now) noexcept {
  if (now <= last_) return; // time never runs backwards here; ignore if a caller's does
  double dt = std::chrono::duration<double>(now - last_).count();
  double keep = std::exp(-dt / window_s_); // underflows to 0 on the first call: fine
  requests_ *= keep;
  retries_ *= keep;
  last_ = now;
}

void retry_budget::record_request(time_point now) noexcept {
  decay(now);
  requests_ += 1;
}

double retry_budget::available(time_point now) noexcept {
  decay(now);
  return ratio_ * requests_ + reserve_ - retries_;
}

bool retry_budget::try_spend(time_point now) noexcept {
  if (available(now) < 1.0) return false;
  retries_ += 1;
  return true;
}

// --- retry_policy -----------------------------------------------------------------------

retry_policy::retry_policy(const retry_config& config, std::uint64_t seed) noexcept
    : config_(config),
      budget_(config.budget_ratio, config.budget_min_per_second, config.budget_window),
      rng_state_(seed) {}

std::uint64_t retry_policy::next_random() noexcept {
  // splitmix64: tiny, fast, good enough for jitter.
  std::uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

nanoseconds retry_policy::backoff(unsigned retry) noexcept {
  auto cap = std::max<std::int64_t>(0, nanoseconds(config_.max_delay).count());
  auto ceiling = std::max<std::int64_t>(0, nanoseconds(config_.base_delay).count());
  // Double up to the cap without overflowing however large `retry` is.
  for (unsigned i = 1; i < retry && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  // Uniform in [0, ceiling] by multiply-shift (unbiased enough for jitter).
  auto span = static_cast<unsigned __int128>(ceiling) + 1;
  auto draw = static_cast<std::int64_t>((span * next_random()) >> 64);
  return nanoseconds(draw);
}

retry_decision retry_policy::decide(const attempt_report& report, time_point now,
                                    time_point deadline) noexcept {
  const attempt_outcome o = report.outcome;
  if (report.attempt <= 1) budget_.record_request(now);

  if (o.ok()) return finish(final_reason::succeeded);
  if (o.cls == error_class::cancelled) return finish(final_reason::cancelled);
  if (o.cls == error_class::auth_failed) return finish(final_reason::unauthorized);
  if (o.cls == error_class::http_status && o.status == 401) {
    if (report.auth_refreshed) return finish(final_reason::unauthorized);
    if (now >= deadline) return finish(final_reason::deadline);
    return {retry_action::refresh_auth_then_retry, final_reason::succeeded, now};
  }
  if (!is_retryable(o, config_)) return finish(final_reason::not_retryable);
  if (report.attempt >= config_.max_attempts) return finish(final_reason::attempts_exhausted);

  nanoseconds wait = backoff(report.attempt);
  if (report.retry_after) {
    if (*report.retry_after > config_.max_retry_after)
      return finish(final_reason::retry_after_too_long);
    wait = std::max<nanoseconds>(wait, *report.retry_after); // a minimum, never shortened
  }
  if (deadline - now < wait) return finish(final_reason::deadline);
  // Spent last, so an update refused for another reason leaves the budget alone.
  if (!budget_.try_spend(now)) return finish(final_reason::budget_exhausted);
  return {retry_action::retry, final_reason::succeeded, now + wait};
}

} // namespace jobpatch
