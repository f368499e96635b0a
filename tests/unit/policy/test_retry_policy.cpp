#include <jobpatch/policy/retry_policy.hpp>

#include <doctest/doctest.h>

#include <set>

using namespace jobpatch;
using namespace std::chrono;
using namespace std::chrono_literals;
using tp = steady_clock::time_point;

namespace {
const tp t0 = tp(1000s);

attempt_report report(attempt_outcome o, unsigned attempt = 1,
                      std::optional<milliseconds> retry_after = std::nullopt,
                      bool auth_refreshed = false) {
  return {o, attempt, auth_refreshed, retry_after};
}

// A config without a budget limit, for tests about other rules.
retry_config unlimited_budget() {
  retry_config c;
  c.budget_min_per_second = 1e9;
  return c;
}
} // namespace

TEST_CASE("retry_policy: success is final") {
  retry_policy p;
  auto d = p.decide(report(attempt_outcome::success()), t0);
  CHECK(d.kind == retry_action::final);
  CHECK(d.reason == final_reason::succeeded);
  CHECK(to_string(d.reason).empty());
}

TEST_CASE("retry_policy: 500 and 503 are retried, within the backoff ceiling") {
  for (int status : {500, 503}) {
    retry_policy p(unlimited_budget(), 7);
    auto d = p.decide(report(attempt_outcome::http(status)), t0);
    CHECK(d.kind == retry_action::retry);
    CHECK(d.at >= t0);
    CHECK(d.at <= t0 + 100ms);
  }
}

TEST_CASE("retry_policy: 429, 502, 504 are retried by default and can be switched off") {
  retry_config on = unlimited_budget();
  for (int status : {429, 502, 504}) {
    retry_policy p(on);
    CHECK(p.decide(report(attempt_outcome::http(status)), t0).kind == retry_action::retry);
    CHECK(is_retryable(attempt_outcome::http(status)));
  }
  retry_config off = unlimited_budget();
  off.retry_429 = false;
  off.retry_502_504 = false;
  retry_policy p(off);
  for (int status : {429, 502, 504}) {
    auto d = p.decide(report(attempt_outcome::http(status)), t0);
    CHECK(d.kind == retry_action::final);
    CHECK(d.reason == final_reason::not_retryable);
    CHECK_FALSE(is_retryable(attempt_outcome::http(status), off));
  }
  // 500 and 503 do not depend on the switches.
  CHECK(p.decide(report(attempt_outcome::http(503)), t0).kind == retry_action::retry);
  CHECK(is_retryable(attempt_outcome::http(500), off));
}

TEST_CASE("retry_policy: 400, 403, 404 and other statuses are final") {
  retry_policy p(unlimited_budget());
  for (int status : {400, 403, 404, 405, 408, 409, 422, 501, 505, 302, 200}) {
    auto d = p.decide(report(attempt_outcome::http(status)), t0);
    CHECK_MESSAGE(d.kind == retry_action::final, status);
    CHECK(d.reason == final_reason::not_retryable);
    CHECK_FALSE(is_retryable(attempt_outcome::http(status)));
  }
}

TEST_CASE("retry_policy: transport failures are retried unless switched off") {
  const error_class retried[] = {error_class::connect_refused, error_class::connect_failed,
                                 error_class::resolve,         error_class::tls_handshake,
                                 error_class::timeout,         error_class::reset,
                                 error_class::truncated,       error_class::malformed_response};
  retry_policy p(unlimited_budget());
  for (auto c : retried) {
    CHECK_MESSAGE(p.decide(report(attempt_outcome::failure(c)), t0).kind == retry_action::retry,
                  identifier(c));
    CHECK(is_retryable(attempt_outcome::failure(c)));
  }
  retry_config off = unlimited_budget();
  off.retry_transport = false;
  retry_policy q(off);
  for (auto c : retried) {
    CHECK(q.decide(report(attempt_outcome::failure(c)), t0).reason == final_reason::not_retryable);
    CHECK_FALSE(is_retryable(attempt_outcome::failure(c), off));
  }
}

TEST_CASE("retry_policy: TLS verification failure, auth failure and cancellation are final") {
  retry_policy p(unlimited_budget());
  auto d = p.decide(report(attempt_outcome::failure(error_class::tls_verify)), t0);
  CHECK(d.kind == retry_action::final);
  CHECK(d.reason == final_reason::not_retryable);
  CHECK(p.decide(report(attempt_outcome::failure(error_class::auth_failed)), t0).reason ==
        final_reason::unauthorized);
  CHECK(p.decide(report(attempt_outcome::failure(error_class::cancelled)), t0).reason ==
        final_reason::cancelled);
  for (auto c : {error_class::tls_verify, error_class::auth_failed, error_class::cancelled,
                 error_class::none})
    CHECK_FALSE(is_retryable(attempt_outcome::failure(c)));
}

TEST_CASE("retry_policy: 401 refreshes the token and retries once, a second 401 is final") {
  retry_policy p(unlimited_budget());
  auto first = p.decide(report(attempt_outcome::http(401), 1), t0);
  CHECK(first.kind == retry_action::refresh_auth_then_retry);
  CHECK(first.at == t0);
  auto second = p.decide(report(attempt_outcome::http(401), 2, std::nullopt, true), t0 + 1s);
  CHECK(second.kind == retry_action::final);
  CHECK(second.reason == final_reason::unauthorized);
  CHECK(is_retryable(attempt_outcome::http(401)));
}

TEST_CASE(
    "retry_policy: the 401 refresh is allowed at the last attempt but not past the deadline") {
  retry_config c = unlimited_budget();
  c.max_attempts = 1;
  retry_policy p(c);
  CHECK(p.decide(report(attempt_outcome::http(401), 1), t0).kind ==
        retry_action::refresh_auth_then_retry);
  auto late = p.decide(report(attempt_outcome::http(401), 1), t0, t0);
  CHECK(late.kind == retry_action::final);
  CHECK(late.reason == final_reason::deadline);
}

TEST_CASE("retry_policy: max attempts counts the first attempt") {
  retry_config c = unlimited_budget();
  c.max_attempts = 3;
  retry_policy p(c);
  CHECK(p.decide(report(attempt_outcome::http(503), 1), t0).kind == retry_action::retry);
  CHECK(p.decide(report(attempt_outcome::http(503), 2), t0).kind == retry_action::retry);
  auto d = p.decide(report(attempt_outcome::http(503), 3), t0);
  CHECK(d.kind == retry_action::final);
  CHECK(d.reason == final_reason::attempts_exhausted);
  c.max_attempts = 1;
  retry_policy once(c);
  CHECK(once.decide(report(attempt_outcome::http(503), 1), t0).reason ==
        final_reason::attempts_exhausted);
}

TEST_CASE("retry_policy: backoff ceiling doubles per retry up to the cap (full jitter)") {
  retry_config c;
  c.base_delay = 100ms;
  c.max_delay = 1s;
  retry_policy p(c, 42);
  const milliseconds ceilings[] = {100ms, 200ms, 400ms, 800ms, 1s, 1s, 1s};
  for (unsigned retry = 1; retry <= 7; ++retry) {
    nanoseconds lo = nanoseconds::max(), hi = nanoseconds::zero();
    for (int i = 0; i < 4000; ++i) {
      auto b = p.backoff(retry);
      lo = std::min(lo, b);
      hi = std::max(hi, b);
    }
    auto ceiling = ceilings[retry - 1];
    CHECK_MESSAGE(hi <= ceiling, "retry ", retry);
    CHECK(lo >= 0ns);
    // Full jitter: the draws spread over the whole range, not just near the ceiling.
    CHECK(lo < ceiling / 20);
    CHECK(hi > ceiling * 19 / 20);
  }
  // A huge retry number neither overflows nor exceeds the cap.
  CHECK(p.backoff(1000000) <= 1s);
}

TEST_CASE("retry_policy: jitter is reproducible per seed and differs between seeds") {
  retry_policy a({}, 1), b({}, 1), c({}, 2);
  bool all_same_ac = true;
  for (int i = 0; i < 20; ++i) {
    auto x = a.backoff(3), y = b.backoff(3), z = c.backoff(3);
    CHECK(x == y);
    if (x != z) all_same_ac = false;
  }
  CHECK_FALSE(all_same_ac);
}

TEST_CASE("retry_policy: zero base delay retries at once") {
  retry_config c = unlimited_budget();
  c.base_delay = 0ms;
  retry_policy p(c);
  auto d = p.decide(report(attempt_outcome::http(500)), t0);
  CHECK(d.kind == retry_action::retry);
  CHECK(d.at == t0);
}

TEST_CASE("retry_policy: 503 with Retry-After waits at least that long") {
  retry_config c = unlimited_budget();
  c.base_delay = 10ms;
  c.max_delay = 10ms;
  retry_policy p(c, 3);
  for (int i = 0; i < 100; ++i) {
    auto d = p.decide(report(attempt_outcome::http(503), 1, 2s), t0);
    REQUIRE(d.kind == retry_action::retry);
    CHECK(d.at == t0 + 2s); // the backoff (<= 10 ms) is shorter, so Retry-After wins
  }
  // A backoff longer than Retry-After is kept: Retry-After is a minimum, not an override.
  c.base_delay = c.max_delay = 5s;
  retry_policy q(c, 3);
  bool longer_seen = false;
  for (int i = 0; i < 100; ++i) {
    auto d = q.decide(report(attempt_outcome::http(429), 1, 1s), t0);
    CHECK(d.at >= t0 + 1s);
    CHECK(d.at <= t0 + 5s);
    if (d.at > t0 + 1s) longer_seen = true;
  }
  CHECK(longer_seen);
}

TEST_CASE("retry_policy: a Retry-After beyond the allowed maximum ends the update") {
  retry_config c = unlimited_budget();
  c.max_retry_after = 60s;
  retry_policy p(c);
  CHECK(p.decide(report(attempt_outcome::http(503), 1, 60s), t0).kind == retry_action::retry);
  auto d = p.decide(report(attempt_outcome::http(503), 1, 61s), t0);
  CHECK(d.kind == retry_action::final);
  CHECK(d.reason == final_reason::retry_after_too_long);
}

TEST_CASE("retry_policy: no retry whose wait would end past the deadline") {
  retry_config c = unlimited_budget();
  retry_policy p(c);
  auto ok = p.decide(report(attempt_outcome::http(503), 1, 5s), t0, t0 + 5s);
  CHECK(ok.kind == retry_action::retry);
  CHECK(ok.at == t0 + 5s);
  auto late = p.decide(report(attempt_outcome::http(503), 1, 5s), t0, t0 + 5s - 1ms);
  CHECK(late.kind == retry_action::final);
  CHECK(late.reason == final_reason::deadline);
  auto past = p.decide(report(attempt_outcome::http(503), 1), t0, t0 - 1s);
  CHECK(past.reason == final_reason::deadline);
}

TEST_CASE("retry_policy: refusals for other reasons do not spend the budget") {
  retry_config c;
  c.budget_ratio = 0;
  c.budget_min_per_second = 0.1; // reserve: exactly 1 retry over the 10 s window
  c.max_attempts = 3;
  c.max_retry_after = 10s;
  retry_policy p(c);
  CHECK(p.decide(report(attempt_outcome::http(404)), t0).reason == final_reason::not_retryable);
  CHECK(p.decide(report(attempt_outcome::http(503)), t0, t0 - 1s).reason == final_reason::deadline);
  CHECK(p.decide(report(attempt_outcome::http(503), 3), t0).reason ==
        final_reason::attempts_exhausted);
  CHECK(p.decide(report(attempt_outcome::http(503), 1, 11s), t0).reason ==
        final_reason::retry_after_too_long);
  CHECK(p.decide(report(attempt_outcome::http(401)), t0).kind ==
        retry_action::refresh_auth_then_retry);
  // The one retry of the reserve is still there...
  CHECK(p.decide(report(attempt_outcome::http(503)), t0).kind == retry_action::retry);
  // ...and now it is spent.
  auto d = p.decide(report(attempt_outcome::http(503)), t0);
  CHECK(d.kind == retry_action::final);
  CHECK(d.reason == final_reason::budget_exhausted);
}

TEST_CASE("retry_policy: only first attempts earn retry budget, not retries nor their answers") {
  retry_config c;
  c.budget_ratio = 1;          // each first attempt earns one retry...
  c.budget_min_per_second = 0; // ...and there is no reserve besides
  c.max_attempts = 10;
  retry_policy p(c);
  // The first attempt earns one retry and its failure spends it.
  CHECK(p.decide(report(attempt_outcome::http(503), 1), t0).kind == retry_action::retry);
  CHECK(p.budget().available(t0) == doctest::Approx(0));
  // The retry fails too: it earned nothing, so the budget has no second retry for it.
  auto d = p.decide(report(attempt_outcome::http(503), 2), t0);
  CHECK(d.kind == retry_action::final);
  CHECK(d.reason == final_reason::budget_exhausted);
  // A retry that succeeds earns nothing either; the next first attempt does.
  CHECK(p.decide(report(attempt_outcome::success(), 3), t0).reason == final_reason::succeeded);
  CHECK(p.budget().available(t0) == doctest::Approx(0));
  CHECK(p.decide(report(attempt_outcome::success(), 1), t0).reason == final_reason::succeeded);
  CHECK(p.budget().available(t0) == doctest::Approx(1));
}

TEST_CASE("retry_policy: the retry budget stops a retry storm during an outage") {
  retry_config c;
  c.budget_ratio = 0.2;
  c.budget_min_per_second = 10;
  c.budget_window = 10s;
  retry_policy p(c, 9);
  // 10,000 fresh updates at 1,000/s all fail with 503 (a total outage for 10 s).
  int retries = 0, refused = 0;
  for (int i = 0; i < 10000; ++i) {
    auto now = t0 + milliseconds(i);
    auto d = p.decide(report(attempt_outcome::http(503), 1), now);
    if (d.kind == retry_action::retry)
      ++retries;
    else if (d.reason == final_reason::budget_exhausted)
      ++refused;
  }
  CHECK(retries + refused == 10000);
  // Allowed: 20% of the first attempts, plus the initial reserve (10/s * 10 s window),
  // plus the minimum of 10/s over the 10 s run: at most 2,000 + 100 + 100.
  CHECK(retries <= 2200);
  CHECK(retries >= 1500); // and the budget does not starve legitimate retries either
  CHECK(refused > 7000);
}

TEST_CASE("retry_budget: reserve, ratio and exponential decay") {
  retry_budget b(0.5, 1.0, 10s); // reserve 10 retries
  CHECK(b.available(t0) == doctest::Approx(10));
  for (int i = 0; i < 10; ++i) CHECK(b.try_spend(t0));
  CHECK_FALSE(b.try_spend(t0)); // reserve spent, nothing earned
  b.record_request(t0);
  b.record_request(t0); // two requests earn one retry
  CHECK(b.available(t0) == doctest::Approx(1));
  CHECK(b.try_spend(t0));
  CHECK_FALSE(b.try_spend(t0));
  // After one window, spent retries have decayed to 1/e of their count.
  double later = b.available(t0 + 10s);
  CHECK(later == doctest::Approx(10 + 0.5 * 2 / 2.718281828 - 11 / 2.718281828).epsilon(1e-6));
  // After a long quiet time the full reserve is back.
  CHECK(b.available(t0 + 1000s) == doctest::Approx(10));
  // A clock that runs backwards changes nothing.
  CHECK(b.available(t0) == doctest::Approx(10));
}

TEST_CASE("retry_budget: the steady-state retry rate is ratio x requests + minimum") {
  retry_budget b(0.2, 10, 10s);
  // 100 fresh requests/s for 100 s, and a retry whenever the budget allows.
  int retries_last_50s = 0;
  for (int ms = 0; ms < 100000; ms += 10) {
    auto now = t0 + milliseconds(ms);
    b.record_request(now);
    while (b.try_spend(now))
      if (ms >= 50000) ++retries_last_50s;
  }
  // 0.2 * 100/s + 10/s = 30 retries/s over 50 s = 1,500.
  CHECK(retries_last_50s == doctest::Approx(1500).epsilon(0.02));
}

TEST_CASE("retry_policy: final reasons have texts") {
  for (auto r :
       {final_reason::not_retryable, final_reason::unauthorized, final_reason::attempts_exhausted,
        final_reason::deadline, final_reason::budget_exhausted, final_reason::retry_after_too_long,
        final_reason::cancelled})
    CHECK_FALSE(to_string(r).empty());
  CHECK(to_string(final_reason::budget_exhausted) == "retry budget exhausted");
  CHECK(to_string(static_cast<final_reason>(200)) == "unknown");
}
