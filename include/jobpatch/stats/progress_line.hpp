#pragma once
// The one-line progress display redrawn in place on a terminal (stderr), and the rate
// meter behind its "req/s". Pure: the engine passes the time and decides when to print.

#include <jobpatch/stats/latency_histogram.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace jobpatch {

// Events per second over a sliding window (the last few seconds), so the displayed rate
// follows changes instead of averaging the whole run. Fixed memory; not thread-safe.
class rate_meter {
public:
  using clock = std::chrono::steady_clock;
  static constexpr std::size_t slot_count = 10;

  // Counts from `start`; `window` (> 0) is how far back rate() looks.
  explicit rate_meter(clock::time_point start,
                      std::chrono::nanoseconds window = std::chrono::seconds(5));

  // `n` events happened at `now` (times must not go backwards by more than the window).
  void record(clock::time_point now, std::uint64_t n = 1) noexcept;
  // Events per second over the window ending at `now` (over the time since `start` when
  // that is shorter); 0 before anything happened.
  double rate(clock::time_point now) const noexcept;

private:
  std::int64_t slot_of(clock::time_point t) const noexcept;

  clock::time_point start_;
  std::chrono::nanoseconds slot_width_;
  std::array<std::int64_t, slot_count> slot_index_{}; // absolute slot number each cell holds
  std::array<std::uint64_t, slot_count> slot_events_{};
};

// What the progress line shows. Plain data, filled by the engine.
struct progress_snapshot {
  std::uint64_t done = 0;             // lines with a final outcome
  std::optional<std::uint64_t> total; // unknown for stdin: no percentage or ETA
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t retrying = 0;                 // lines waiting to be retried
  double rate = 0;                            // lines per second, recent (see rate_meter)
  const latency_histogram* latency = nullptr; // p50/p99 when given and not empty
  std::chrono::nanoseconds elapsed{0};
  // Requests in flight of the `limit` allowed ("in flight 7/12", "auto" when it adapts);
  // limit 0 = not shown.
  std::uint64_t in_flight = 0;
  unsigned limit = 0;
  bool limit_auto = false;
  bool paused = false; // --control pause: "PAUSED", never dropped
};

// "\r" + the line + "\x1b[K" (clear to end of line). The visible text fits in
// `terminal_width - 1` columns (0 = unknown: 80), leaving the last column free so the
// cursor never wraps; the least important parts go first when it is too narrow:
// elapsed time, retrying and in flight, latency, ok, failed, rate, ETA, then the text is cut.
// The text is ASCII only, so bytes are columns.
std::string format_progress_line(const progress_snapshot& p, std::size_t terminal_width);

// What bench's progress line shows (`jobpatch bench --progress`).
struct bench_progress_snapshot {
  std::chrono::nanoseconds elapsed{0};        // since the schedule started
  std::chrono::nanoseconds duration{0};       // --duration
  double achieved_rate = 0;                   // completed requests/s so far
  double intended_rate = 0;                   // requests due so far / elapsed
  const latency_histogram* latency = nullptr; // from the intended send time, so far
  std::uint64_t done = 0;                     // completed requests
  std::uint64_t errors = 0;                   // failed requests
};

// "bench 0:12/1:00  198/s of 200/s  p50 1.2ms p99 3.4ms  errors 0  2376 done", fitted to
// the terminal as format_progress_line does (done, then latency, then errors dropped first).
std::string format_bench_progress_line(const bench_progress_snapshot& p,
                                       std::size_t terminal_width);

// Erases the progress line (before printing a message, or at the end).
inline constexpr const char* progress_line_clear = "\r\x1b[K";

} // namespace jobpatch
