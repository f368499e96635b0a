#include <jobpatch/policy/failure_detector.hpp>

#include <doctest/doctest.h>

using namespace jobpatch;
using namespace std::chrono;
using namespace std::chrono_literals;
using tp = steady_clock::time_point;

namespace {
const tp t0 = tp(50s);
const attempt_outcome refused = attempt_outcome::failure(error_class::connect_refused);
} // namespace

TEST_CASE("failure_detector: eight refused connections in a row abort with a clear message") {
  failure_detector d;
  for (int i = 0; i < 7; ++i) CHECK_FALSE(d.record(refused, t0 + i * 10ms));
  CHECK_FALSE(d.tripped());
  CHECK(d.message().empty());
  CHECK(d.record(refused, t0 + 70ms));
  CHECK(d.tripped());
  CHECK(d.failing_class() == error_class::connect_refused);
  CHECK(d.streak() == 8);
  CHECK(d.message() == "aborting: the last 8 attempts all failed with: connection refused "
                       "(is the --base-url right and the server up?)");
  // Stays tripped while the failures go on.
  CHECK(d.record(refused, t0 + 80ms));
}

TEST_CASE("failure_detector: any success resets the streak") {
  failure_detector d;
  for (int i = 0; i < 7; ++i) d.record(refused, t0);
  CHECK_FALSE(d.record(attempt_outcome::success(), t0));
  CHECK(d.streak() == 0);
  CHECK(d.failing_class() == error_class::none);
  for (int i = 0; i < 7; ++i) CHECK_FALSE(d.record(refused, t0));
  CHECK(d.record(refused, t0));
  // Even after tripping, a success clears it.
  CHECK_FALSE(d.record(attempt_outcome::success(204), t0));
  CHECK_FALSE(d.tripped());
}

TEST_CASE("failure_detector: every fatal class trips it, transient ones never do") {
  for (auto c : {error_class::connect_refused, error_class::connect_failed, error_class::resolve,
                 error_class::tls_handshake, error_class::tls_verify, error_class::auth_failed}) {
    CHECK(is_fatal_candidate(c));
    failure_detector d;
    bool tripped = false;
    for (int i = 0; i < 8; ++i) tripped = d.record(attempt_outcome::failure(c), t0);
    CHECK_MESSAGE(tripped, identifier(c));
    CHECK(d.message().find(to_string(c)) != std::string::npos);
  }
  for (auto c : {error_class::timeout, error_class::reset, error_class::truncated,
                 error_class::malformed_response, error_class::cancelled, error_class::none,
                 error_class::http_status}) {
    CHECK_FALSE(is_fatal_candidate(c));
    failure_detector d;
    bool tripped = false;
    for (int i = 0; i < 100; ++i) tripped = d.record(attempt_outcome::failure(c), t0);
    CHECK_FALSE_MESSAGE(tripped, identifier(c));
  }
  failure_detector d;
  for (int i = 0; i < 100; ++i) CHECK_FALSE(d.record(attempt_outcome::http(503), t0));
}

TEST_CASE("failure_detector: a different fatal class starts a new streak") {
  failure_detector d;
  for (int i = 0; i < 7; ++i) d.record(refused, t0);
  CHECK_FALSE(d.record(attempt_outcome::failure(error_class::resolve), t0));
  CHECK(d.failing_class() == error_class::resolve);
  CHECK(d.streak() == 1);
  for (int i = 0; i < 6; ++i)
    CHECK_FALSE(d.record(attempt_outcome::failure(error_class::resolve), t0));
  CHECK(d.record(attempt_outcome::failure(error_class::resolve), t0));
  CHECK(d.message() == "aborting: the last 8 attempts all failed with: host name not resolved "
                       "(is the host name in --base-url right?)");
}

TEST_CASE("failure_detector: an HTTP answer other than 401 resets, 401 and transients do not") {
  failure_detector d;
  for (int i = 0; i < 7; ++i) d.record(refused, t0);
  CHECK_FALSE(d.record(attempt_outcome::http(404), t0)); // the server answered
  CHECK(d.streak() == 0);

  // Bad API key: 401, refresh fails, 401... the 401s do not break the auth streak.
  failure_detector auth;
  const auto failed = attempt_outcome::failure(error_class::auth_failed);
  for (int i = 0; i < 7; ++i) {
    CHECK_FALSE(auth.record(attempt_outcome::http(401), t0));
    CHECK_FALSE(auth.record(failed, t0));
  }
  CHECK(auth.record(failed, t0));
  // The first 401 came before the streak began, so 6 of the 7 count as "other errors".
  CHECK(auth.message() == "aborting: 8 attempts since the last success failed with: "
                          "authentication failed, 6 more with other errors (check the API key)");

  // A flapping host: refusals mixed with timeouts still trip it.
  failure_detector flap;
  for (int i = 0; i < 7; ++i) {
    flap.record(refused, t0);
    flap.record(attempt_outcome::failure(error_class::timeout), t0);
  }
  CHECK(flap.record(refused, t0));
}

TEST_CASE("failure_detector: failures further apart than the window are not a streak") {
  failure_detector_config c;
  c.threshold = 3;
  c.window = 10s;
  failure_detector d(c);
  d.record(refused, t0);
  d.record(refused, t0 + 10s); // exactly the window: still recent
  CHECK(d.streak() == 2);
  d.record(refused, t0 + 20s + 1ms); // stale: a new streak
  CHECK(d.streak() == 1);
  CHECK_FALSE(d.tripped());
  d.record(refused, t0 + 21s);
  CHECK(d.record(refused, t0 + 22s));
}

TEST_CASE("failure_detector: threshold 0 behaves as 1") {
  failure_detector_config c;
  c.threshold = 0;
  failure_detector d(c);
  CHECK(d.record(attempt_outcome::failure(error_class::tls_verify), t0));
  CHECK(d.message() == "aborting: the last 1 attempts all failed with: TLS certificate "
                       "verification failed (check --cacert and the host name in --base-url)");
}

TEST_CASE("attempt_outcome: names and identifiers cover every class") {
  CHECK(to_string(error_class::connect_refused) == "connection refused");
  CHECK(identifier(error_class::malformed_response) == "malformed_response");
  CHECK(identifier(error_class::cancelled) == "cancelled");
  CHECK(to_string(static_cast<error_class>(99)) == "unknown error");
  CHECK(identifier(static_cast<error_class>(99)) == "unknown");
  for (std::size_t i = 0; i < error_class_count; ++i) {
    CHECK_FALSE(to_string(static_cast<error_class>(i)).empty());
    CHECK_FALSE(identifier(static_cast<error_class>(i)).empty());
  }
  CHECK(attempt_outcome::success().ok());
  CHECK(attempt_outcome::success().status == 200);
  CHECK_FALSE(attempt_outcome::http(200).ok());
  CHECK(attempt_outcome::http(503) == attempt_outcome{error_class::http_status, 503});
}

TEST_CASE("failure_detector: a whole run of 404s never trips it") {
  // A manifest of jobs that do not exist: every answer proves host, TLS and token work.
  failure_detector d;
  for (int i = 0; i < 10000; ++i) REQUIRE_FALSE(d.record(attempt_outcome::http(404), t0 + i * 1ms));
  CHECK(d.streak() == 0);
  // Interleaved with transient failures, still never.
  for (int i = 0; i < 100; ++i) {
    CHECK_FALSE(d.record(attempt_outcome::failure(error_class::timeout), t0 + 20s + i * 1ms));
    CHECK_FALSE(d.record(attempt_outcome::http(404), t0 + 20s + i * 1ms));
  }
}
