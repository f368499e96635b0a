#pragma once
// Fail fast: notices when every recent attempt fails the same hopeless way (bad API key,
// TLS verification, a host that refuses or does not resolve) so the run stops with one
// clear message instead of burning through the manifest. Pure: time is passed in.
// Not thread-safe: one per engine thread.

#include <jobpatch/run/attempt_outcome.hpp>

#include <chrono>
#include <string>

namespace jobpatch {

// Failure classes that, repeated, mean no later attempt can succeed either.
bool is_fatal_candidate(error_class c) noexcept;

// When to give up.
struct failure_detector_config {
  unsigned threshold = 8; // this many consecutive fatal failures of one class abort the run
  // Failures further apart than this are not "recent": the streak starts again.
  std::chrono::milliseconds window{60'000};
};

class failure_detector {
public:
  explicit failure_detector(const failure_detector_config& config = {}) noexcept;

  // Records one attempt's outcome; returns true when the run should abort (and keeps
  // returning true until a success). A success resets; a fatal-class failure extends the
  // streak (or starts a new one if its class differs); an answer other than 401 proves the
  // host, TLS and token work and resets too; 401 and transient failures (timeout, reset,
  // 5xx...) neither extend nor reset the streak.
  bool record(attempt_outcome outcome, std::chrono::steady_clock::time_point now) noexcept;

  // True once the threshold is reached, until a success resets the streak.
  bool tripped() const noexcept { return streak_ >= config_.threshold; }
  // The class of the current streak (none when there is no streak).
  error_class failing_class() const noexcept { return class_; }
  // Fatal failures of failing_class() in the current streak.
  unsigned streak() const noexcept { return streak_; }
  // The message for the user, e.g. "aborting: the last 8 attempts all failed with:
  // connection refused (is the --base-url right and the server up?)". Empty if not tripped.
  std::string message() const;

private:
  failure_detector_config config_;
  error_class class_ = error_class::none;
  unsigned streak_ = 0;
  unsigned others_ = 0; // neutral failures seen during the streak, for the message
  std::chrono::steady_clock::time_point last_failure_{};
};

} // namespace jobpatch
