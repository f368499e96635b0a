#pragma once
// The figures of an open-loop benchmark (`jobpatch bench`): latency of every operation
// from its intended send time and service time of every attempt, per endpoint and
// overall, answers by status, errors by class, late starts, and throughput and latency
// over time. Fixed memory whatever the run length (histograms, no samples kept).
// Single-threaded: owned by the engine's thread.

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/report/bench_gates.hpp>
#include <jobpatch/report/html_report.hpp>
#include <jobpatch/run/attempt_outcome.hpp>
#include <jobpatch/stats/latency_histogram.hpp>
#include <jobpatch/stats/run_statistics.hpp>
#include <jobpatch/stats/time_series.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobpatch {

// The coarse error classes a benchmark reports (finer ones are in error_class).
enum class error_group : std::uint8_t { connect, tls, timeout, reset, http_4xx, http_5xx, other };
inline constexpr std::size_t error_group_count = 7;

// "connect", "tls", "timeout", "reset", "4xx", "5xx", "other".
std::string_view identifier(error_group g) noexcept;
// The group of a failed attempt; nullopt for a 2xx answer (and 1xx/3xx, which are not
// errors of the server or the network).
std::optional<error_group> error_group_of(attempt_outcome outcome) noexcept;

// A request that starts later than this after its intended time counts as late; below it
// is timer and scheduling jitter.
inline constexpr std::chrono::microseconds late_start_threshold{1000};

// The run's settings as typed values, for the summary JSON (runs compare by machine).
struct bench_settings {
  std::string manifest; // the path, or "-"
  bool ids = false;     // the manifest is an --ids list
  std::uint64_t updates = 0;
  std::string base_url;
  double rate_start = 0, rate_end = 0; // requests/s; equal unless a ramp
  double duration_seconds = 0;
  unsigned connections = 0;
  double timeout_seconds = 0;
  unsigned max_attempts = 0;
  std::string tls; // "plain", "verified", "insecure"
  std::string client;
};

// How the run was set up and how it ended, for the summaries. Never holds secrets.
struct bench_run_info {
  std::vector<std::pair<std::string, std::string>> settings; // display order (report)
  bench_settings typed_settings;                             // the summary JSON's
  std::string run_id;
  std::uint64_t scheduled = 0; // requests the schedule holds for the duration
  double duration_seconds = 0; // the schedule's duration
  double wall_seconds = 0;     // from the schedule's start to the last answer
  std::uint64_t not_sent = 0;  // scheduled but never started (the run stopped early)
  bool aborted = false;
  std::string abort_reason;
  int signal = 0; // SIGINT/SIGTERM that stopped the run, or 0
  std::vector<std::string> notes;
  std::vector<gate_result> gates; // --fail-if, judged after the run (evaluate_gates)
};

class bench_statistics {
public:
  // `timeline_bucket`: width of the throughput/latency-over-time intervals.
  explicit bench_statistics(std::chrono::nanoseconds timeline_bucket = std::chrono::seconds(1));

  // How a request came to start when it did.
  enum class start_kind : std::uint8_t {
    on_time_wait, // a connection was free and waited for the intended time
    taken_late,   // every connection was busy at the intended time (the pool fell behind)
  };
  // A request started `lateness` after its intended send time (negative: early). A late
  // start after a wait means the client itself woke late (a CPU-starved machine).
  void record_start(std::chrono::nanoseconds lateness,
                    start_kind kind = start_kind::taken_late) noexcept;
  // One attempt: from the bytes leaving to the answer (or the transport failure).
  void record_attempt(op_kind op, attempt_outcome result, std::chrono::nanoseconds service);
  // One operation's final outcome: `latency` from its intended send time to its final
  // answer (waits and retries included), `completed` its offset from the run's start.
  void record_operation(op_kind op, bool ok, unsigned attempts, std::chrono::nanoseconds latency,
                        std::chrono::nanoseconds completed);

  std::uint64_t started() const noexcept { return started_; }
  std::uint64_t late() const noexcept { return late_; }
  // Late starts after a wait: the client woke late, not the pool's fault.
  std::uint64_t late_wakeups() const noexcept { return late_wakeups_; }
  std::chrono::nanoseconds max_lateness() const noexcept;
  // Mean lateness of the late requests only; 0 when none was late.
  std::chrono::nanoseconds mean_lateness() const noexcept;

  std::uint64_t ok() const noexcept { return counts_.count(outcome::ok); }
  std::uint64_t failed() const noexcept { return counts_.count(outcome::failed); }
  std::uint64_t completed() const noexcept { return ok() + failed(); }
  std::uint64_t attempts() const noexcept { return counts_.attempts(); }
  std::uint64_t retries() const noexcept { return counts_.retries(); }
  std::uint64_t group_count(error_group g) const noexcept {
    return groups_[static_cast<std::size_t>(g)];
  }
  // Operations, from the intended send time; overall and per endpoint.
  const latency_histogram& latency() const noexcept { return counts_.latency(); }
  const latency_histogram& latency(op_kind op) const noexcept {
    return counts_.op_stats(op).latency;
  }
  // Attempts, from send to answer; overall and per endpoint.
  const latency_histogram& service_time() const noexcept { return counts_.service_time(); }
  const latency_histogram& service_time(op_kind op) const noexcept {
    return op_service_[static_cast<std::size_t>(op)];
  }
  const run_statistics& counts() const noexcept { return counts_; }
  const time_series& timeline() const noexcept { return timeline_; }

  // Completed operations per second of wall time.
  static double rate(std::uint64_t n, double seconds) noexcept {
    return seconds > 0 ? static_cast<double>(n) / seconds : 0;
  }

  // Judges each --fail-if gate on this run's figures (an endpoint's when the gate names one).
  std::vector<gate_result> evaluate_gates(const std::vector<bench_gate>& gates,
                                          const bench_run_info& info) const;

  // The late-start sentence of the summary ("N of M requests started late (...): the pool
  // could not keep up ..."), or that every request started on schedule; empty when none
  // started. The text summary and the HTML report both show it.
  std::string late_start_text() const;

  // The human summary for stderr: a few lines, per endpoint, answers, errors, late starts.
  std::string summary_text(const bench_run_info& info) const;
  // The --summary-json document (see README, "Benchmark mode").
  std::string summary_json(const bench_run_info& info, int exit_code) const;
  // What the HTML report shows; points into *this, which must outlive its use.
  html_report_input report_input(const bench_run_info& info) const;

private:
  run_statistics counts_; // statuses, error classes, per-op latency, service time
  std::array<latency_histogram, op_kind_count> op_service_;
  std::array<std::uint64_t, error_group_count> groups_{};
  latency_histogram late_by_; // lateness of the late requests
  std::uint64_t started_ = 0, late_ = 0, late_wakeups_ = 0;
  std::chrono::nanoseconds max_wakeup_lateness_{0};
  time_series timeline_;
};

} // namespace jobpatch
