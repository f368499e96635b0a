#pragma once
// jobpatch-mock's capacity model (--capacity K --service-ms S --queue Q --capacity-after
// SECONDS:K): K requests in service at once, each for S; up to Q more wait in arrival order
// (FIFO); a request arriving with the queue full is refused at once. Pure: time is passed
// in, no clock is read, no lock is taken (the caller serializes).
//
// Service is fixed-length and the queue FIFO, so a request's start is known the moment it
// arrives: it depends only on the requests ahead of it and on the capacity schedule, which
// is given up front. arrive() therefore answers with the time the answer is due, and the
// server just waits until then: nothing has to wake a waiting request later.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobpatch::mock {

// --capacity-after SECONDS:K: from `at` after the mock started listening, K at once.
struct capacity_change {
  std::chrono::milliseconds at{0};
  unsigned limit = 1;
};

struct capacity_options {
  unsigned limit = 0;                    // K; 0: no model, every request is served at once
  std::chrono::milliseconds service{10}; // S
  std::size_t queue = 0;                 // Q
  std::vector<capacity_change> changes;  // in any order, each time at most once

  bool enabled() const noexcept { return limit > 0; }
};

// The largest K and Q the command line takes (a queued request is a held connection).
inline constexpr unsigned max_capacity = 1000000;
inline constexpr std::size_t max_queue = 1000000;
inline constexpr unsigned max_service_ms = 3600 * 1000;

// Parses "SECONDS:K": SECONDS a whole or decimal number of seconds (at most millisecond
// precision, up to a week), K a whole number from 1 to max_capacity. On failure returns
// nothing and says why in `error`.
std::optional<capacity_change> parse_capacity_change(std::string_view text, std::string& error);

// Why `options` cannot be modelled (K or a change's K out of range, two changes at one
// time); empty when they can.
std::string capacity_options_problem(const capacity_options& options);

enum class admission : std::uint8_t {
  at_once,  // fewer than K in service: served from now
  queued,   // waits in the queue, then served
  rejected, // the queue was full: answered at once (503), nothing done
};

struct admission_result {
  admission verdict = admission::rejected;
  std::chrono::steady_clock::time_point start{}; // service starts (not when rejected)
  std::chrono::steady_clock::time_point done{};  // service ends: the answer is due
};

// What /mock/stats shows of the model.
struct capacity_report {
  unsigned limit = 0; // K now
  std::chrono::milliseconds service{0};
  std::size_t queue_limit = 0;
  std::uint64_t at_once = 0, after_queue = 0, rejected = 0;
  std::size_t in_service = 0, queued = 0;           // now
  std::size_t peak_in_service = 0, peak_queued = 0; // ever
  std::size_t changes_made = 0;                     // --capacity-after times passed
};

class capacity_model {
public:
  using clock = std::chrono::steady_clock;

  // `origin`: when the mock started listening, the zero of the changes' times. Throws
  // std::invalid_argument when capacity_options_problem() finds one.
  capacity_model(const capacity_options& options, clock::time_point origin);

  // A request arrives at `now`. Times passed in go forward: an earlier `now` than one seen
  // before (two threads reading the clock, then taking the lock in the other order) is
  // taken as that later one.
  admission_result arrive(clock::time_point now);

  // K at `t`: the last change at or before `t`, else --capacity.
  unsigned limit_at(clock::time_point t) const noexcept;

  capacity_report report(clock::time_point now) const;

private:
  struct step {
    clock::time_point from;
    unsigned limit;
  };
  // The earliest time from `earliest` on at which fewer than K(t) of the admitted requests
  // (all of them started by then) are still in service.
  clock::time_point first_free(clock::time_point earliest) const;

  unsigned initial_limit_;
  clock::duration service_;
  std::size_t queue_limit_;
  std::vector<step> steps_; // the changes, in time order
  // Starts of the admitted requests not yet done, in arrival order: FIFO and one service
  // length make both the starts and the ends ascending.
  std::deque<clock::time_point> starts_;
  clock::time_point latest_{};
  std::uint64_t at_once_ = 0, after_queue_ = 0, rejected_ = 0;
  std::size_t peak_in_service_ = 0, peak_queued_ = 0;
};

} // namespace jobpatch::mock
