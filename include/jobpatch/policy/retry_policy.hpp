#pragma once
// What happens to an update after each attempt: done, retry at a given time, or refresh
// the access token and retry. Pure: time is passed in, randomness comes from a seeded
// generator, so every decision is reproducible in tests. Not thread-safe: one instance
// per engine thread.

#include <jobpatch/run/attempt_outcome.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace jobpatch {

// Defaults of retry_config, named so the CLI help and the README can quote them.
inline constexpr unsigned default_max_attempts = 5;
inline constexpr std::chrono::milliseconds default_base_delay{100};
inline constexpr std::chrono::milliseconds default_max_delay{10'000};
inline constexpr std::chrono::milliseconds default_max_retry_after{120'000};
inline constexpr double default_budget_ratio = 0.5;
inline constexpr double default_budget_min_per_second = 10.0;
inline constexpr std::chrono::milliseconds default_budget_window{10'000};

// Retry settings, built by the CLI.
struct retry_config {
  unsigned max_attempts = default_max_attempts;              // attempts per update, first included
  std::chrono::milliseconds base_delay = default_base_delay; // backoff ceiling of the 1st retry
  std::chrono::milliseconds max_delay = default_max_delay;   // cap of the backoff ceiling
  // A Retry-After longer than this ends the update instead of stalling its job for hours.
  std::chrono::milliseconds max_retry_after = default_max_retry_after;
  bool retry_429 = true;       // 429 Too Many Requests
  bool retry_502_504 = true;   // 502 Bad Gateway, 504 Gateway Timeout
  bool retry_transport = true; // refused, reset, timeout, truncated, TLS read, resolve...
  // Retry budget: retries may be at most budget_ratio of first attempts plus
  // budget_min_per_second, both measured over about budget_window.
  double budget_ratio = default_budget_ratio;
  double budget_min_per_second = default_budget_min_per_second;
  std::chrono::milliseconds budget_window = default_budget_window;
};

// Whether an outcome is worth retrying under `config` (also used for statistics).
// 500/503 always; 429, 502, 504 and transport failures by switch; 401 yes (once, after a
// token refresh); tls_verify, auth_failed, cancelled, other statuses and success: no.
bool is_retryable(attempt_outcome outcome, const retry_config& config = {}) noexcept;

// A token-bucket-like counter that keeps retries a bounded share of recent traffic, so an
// outage cannot become a retry storm (as in Finagle's and gRPC's retry budgets). Both
// counts decay exponentially with time constant `window`.
class retry_budget {
public:
  retry_budget(double ratio, double min_per_second, std::chrono::milliseconds window) noexcept;

  // A first attempt was made: earns `ratio` of a retry.
  void record_request(std::chrono::steady_clock::time_point now) noexcept;
  // Spends one retry if the budget allows it; false (and nothing spent) when exhausted.
  bool try_spend(std::chrono::steady_clock::time_point now) noexcept;
  // Retries still available now (for statistics and tests).
  double available(std::chrono::steady_clock::time_point now) noexcept;

private:
  void decay(std::chrono::steady_clock::time_point now) noexcept;

  double ratio_;
  double reserve_; // min_per_second * window: the steady-state floor of the allowance
  double window_s_;
  double requests_ = 0; // decayed count of first attempts
  double retries_ = 0;  // decayed count of retries
  std::chrono::steady_clock::time_point last_{};
};

// What to do with an update after an attempt.
enum class retry_action : std::uint8_t {
  final,                   // done: see final_reason
  retry,                   // attempt again at retry_decision::at
  refresh_auth_then_retry, // refresh the access token, then attempt again at once
};

// Why an update is done.
enum class final_reason : std::uint8_t {
  succeeded,            // the attempt succeeded
  not_retryable,        // the outcome is final by its nature (400, 403, 404, TLS verify...)
  unauthorized,         // 401 again after a token refresh, or the token exchange failed
  attempts_exhausted,   // max_attempts reached
  deadline,             // the retry would start after the overall deadline
  budget_exhausted,     // the retry budget is spent: too many failures recently
  retry_after_too_long, // the server asked to wait longer than max_retry_after
  cancelled,            // the run is stopping
};

// Short English text for a reason ("retry budget exhausted"); empty for succeeded.
std::string_view to_string(final_reason r) noexcept;

// The decision for one update after one attempt.
struct retry_decision {
  retry_action kind = retry_action::final;
  final_reason reason = final_reason::succeeded; // meaningful when kind == final
  std::chrono::steady_clock::time_point at{};    // when to retry; now for an auth retry
};

// What the engine knows about the attempt that just ended.
struct attempt_report {
  attempt_outcome outcome;
  unsigned attempt = 1;        // 1-based number of this attempt for this update
  bool auth_refreshed = false; // an earlier 401 of this update already led to a refresh
  std::optional<std::chrono::milliseconds> retry_after; // parsed Retry-After, if any
};

// The retry decision maker: one per run (it owns the shared retry budget).
class retry_policy {
public:
  // `seed` drives the jitter; pass a random one in production, a fixed one in tests.
  explicit retry_policy(const retry_config& config = {}, std::uint64_t seed = 0x5eed) noexcept;

  // Decides after an attempt. `deadline` is the overall deadline of the run (max = none).
  // Rules: success → final; 401 → refresh and retry once (even past max_attempts, since
  // it is part of authenticating, not a retry of a failure), a second 401 → final;
  // non-retryable → final; otherwise retry after max(full-jitter backoff, Retry-After)
  // unless attempts, the deadline or the budget say no.
  retry_decision decide(const attempt_report& report, std::chrono::steady_clock::time_point now,
                        std::chrono::steady_clock::time_point deadline =
                            std::chrono::steady_clock::time_point::max()) noexcept;

  // Backoff before retry number `retry` (1 = first retry): uniform in
  // [0, min(max_delay, base_delay * 2^(retry-1))] (full jitter). Consumes randomness.
  std::chrono::nanoseconds backoff(unsigned retry) noexcept;

  const retry_config& config() const noexcept { return config_; }
  const retry_budget& budget() const noexcept { return budget_; }
  retry_budget& budget() noexcept { return budget_; }

private:
  std::uint64_t next_random() noexcept;

  retry_config config_;
  retry_budget budget_;
  std::uint64_t rng_state_;
};

} // namespace jobpatch
