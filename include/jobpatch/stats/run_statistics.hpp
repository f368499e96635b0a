#pragma once
// Counters and latency histograms of a run, and the summary built from them (human text
// on stderr, JSON for --summary-json). Single-threaded: owned by the engine's thread.

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/run/attempt_outcome.hpp>
#include <jobpatch/run/outcome.hpp>
#include <jobpatch/stats/concurrency_record.hpp>
#include <jobpatch/stats/latency_histogram.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobpatch {

class json_writer;

// How a run ended, beyond its per-line outcomes.
struct run_status {
  bool aborted = false; // fail fast, authentication or TLS: exit 3
  // The results (or failed-lines) file could not be written: sending stopped, exit 4.
  // `aborted` is set too, with the file and the error in `abort_reason`.
  bool output_failed = false;
  std::string abort_reason;
  int signal = 0; // SIGINT / SIGTERM that stopped the run, or 0
  bool deadline_exceeded = false;
  std::uint64_t not_attempted = 0; // lines never sent because the run stopped
  std::uint64_t changed = 0;       // --resume: lines recorded ok earlier that differ now
  std::uint64_t first_changed = 0; // the first such line number
  std::vector<std::string> notes;  // things worth telling about the inputs (resume repairs)
  std::string run_id;              // "runId" of the summary, as in the records and metrics
  double wall_seconds = 0;
  // What `jobpatch merge` needs to combine shards' summaries: the shard ("K/N", empty for
  // a whole-manifest run), the manifest lines read (equal in every shard of one manifest),
  // and when the run started and ended (Unix ms; 0 = unknown).
  std::string shard;
  std::uint64_t manifest_lines = 0;
  std::int64_t started_unix_ms = 0, ended_unix_ms = 0;
};

class run_statistics {
public:
  static constexpr int max_status = 600;

  struct per_op {
    std::uint64_t ok = 0, failed = 0, invalid = 0, skipped = 0, attempts = 0, unchanged = 0;
    latency_histogram latency; // per line: first send to final answer, retries included
  };

  // One request and its answer (or transport failure); `service` is send to answer.
  // `sent` is false when the connection failed before the request left (not an HTTP
  // request, though an attempt).
  void record_attempt(op_kind op, attempt_outcome result, std::chrono::nanoseconds service,
                      bool sent = true);
  // Read first (plan, --skip-unchanged, --undo-out): a GET of a job was an attempt (also
  // counted by record_attempt), and a line's first PATCH after its read is not a retry.
  void record_read() noexcept { ++reads_; }
  void record_patch_after_read() noexcept { ++patches_after_read_; }
  std::uint64_t reads() const noexcept { return reads_; }
  // The final outcome of a line that was sent at least once (or skipped on resume).
  void record_outcome(op_kind op, outcome result, unsigned attempts,
                      std::chrono::nanoseconds latency);
  // A line rejected by validation; `op` when it was known. `in_every_shard`: its job is
  // not known, so every shard of a sharded run records it (merge counts it once).
  void record_invalid(std::optional<op_kind> op, bool in_every_shard = false);
  // Why a line ended failed ("withheld", "retry budget exhausted", "HTTP 404 Not Found"):
  // the summaries' byError, one count per line.
  void record_failure_reason(std::string_view reason);
  const std::vector<std::pair<std::string, std::uint64_t>>& failure_reasons() const noexcept {
    return reasons_;
  }
  // --resume: a line not sent again because it failed for good in an earlier run (also
  // counted failed, with its reason).
  void record_failed_earlier() noexcept { ++failed_earlier_; }
  std::uint64_t failed_earlier() const noexcept { return failed_earlier_; }
  // A line this run ended with HTTP 400/403/404: a later --resume does not send it again.
  void record_failed_for_good() noexcept { ++failed_for_good_; }
  std::uint64_t failed_for_good() const noexcept { return failed_for_good_; }
  void set_token_exchanges(std::uint64_t n) noexcept { token_refreshes_ = n; }
  // A 200 whose answer did not show the values sent (verified:false).
  void record_unverified() noexcept { ++verified_false_; }
  std::uint64_t unverified() const noexcept { return verified_false_; }
  // A line that ended failed while its PATCH may have been applied ("inDoubt" records).
  void record_in_doubt() noexcept { ++in_doubt_; }
  std::uint64_t in_doubt() const noexcept { return in_doubt_; }

  // The requests allowed in flight over the run, and the operator's live changes.
  concurrency_record& concurrency() noexcept { return concurrency_; }
  const concurrency_record& concurrency() const noexcept { return concurrency_; }

  std::uint64_t total() const noexcept;
  std::uint64_t count(outcome o) const noexcept;
  std::uint64_t attempts() const noexcept { return attempts_; }
  // Attempts beyond each line's first (resends after a 401 included).
  std::uint64_t retries() const noexcept;
  // HTTP requests that left (attempts whose connection failed first are not).
  std::uint64_t requests() const noexcept { return requests_; }
  const per_op& op_stats(op_kind op) const noexcept { return ops_[static_cast<std::size_t>(op)]; }
  const latency_histogram& latency() const noexcept { return latency_; }
  const latency_histogram& service_time() const noexcept { return service_; }
  // Answers by HTTP status and failures below HTTP by class, the non-zero ones, ascending.
  std::vector<std::pair<int, std::uint64_t>> status_counts() const;
  std::vector<std::pair<error_class, std::uint64_t>> error_counts() const;
  // "byStatus":{"200":N,...},"byError":{"timeout":N,...}: the summaries' answer counts.
  // With `final_reasons` (apply), byError holds why lines failed and the per-attempt
  // classes go to "errorsByClass".
  void write_answers_json(json_writer& json, bool final_reasons = false) const;

  // Human summary, a few lines for stderr.
  std::string summary_text(const run_status& status) const;
  // The --summary-json document (see README): counts, byOp, byStatus, byError, latency.
  // `more` adds members of the command's own (plan's "plan") before how the run ended.
  std::string summary_json(const run_status& status, int exit_code,
                           const std::function<void(json_writer&)>& more = {}) const;

private:
  std::array<per_op, op_kind_count> ops_{};
  std::uint64_t invalid_without_op_ = 0;
  // Invalid lines without a job id, per op (the last slot: op unknown).
  std::array<std::uint64_t, op_kind_count + 1> invalid_in_every_shard_{};
  std::uint64_t attempts_ = 0, token_refreshes_ = 0, requests_ = 0, lines_sent_ = 0;
  std::vector<std::pair<std::string, std::uint64_t>> reasons_; // few: a vector
  std::uint64_t verified_false_ = 0;
  std::uint64_t in_doubt_ = 0;
  std::uint64_t failed_earlier_ = 0, failed_for_good_ = 0;
  std::uint64_t reads_ = 0, patches_after_read_ = 0;
  std::array<std::uint64_t, max_status> by_status_{};
  std::array<std::uint64_t, error_class_count> by_error_{};
  latency_histogram latency_; // per line
  latency_histogram service_; // per attempt
  concurrency_record concurrency_;
};

// "interrupted":..,["signal":N,]"aborted":..,["abortReason":"..",]"exitCode":N — how a
// run ended, as every summary JSON ends.
void write_run_end_json(json_writer& json, int signal, bool aborted,
                        const std::string& abort_reason, int exit_code);

} // namespace jobpatch
