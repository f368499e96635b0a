#pragma once
// Everything `jobpatch apply` is told, as one plain struct built by the CLI.

#include "net/network_options.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace jobpatch {

// The default bound on the bytes of updates held by the apply engine (see README, memory).
inline constexpr std::size_t default_window_bytes = 64u << 20;

// --connections auto's MAX when not given.
inline constexpr unsigned default_auto_max_connections = 64;

struct apply_options {
  std::string manifest; // path or "-"
  std::string base_url = "https://api.bytenite.com";
  std::string api_key;     // from BYTENITE_API_KEY or --api-key-file; never printed
  std::string ca_file;     // extra trust anchors (PEM); empty = system store
  bool insecure = false;   // skip certificate verification (tests only)
  network_options network; // proxy, client certificate, extra headers

  unsigned connections = 16; // with auto_connections: the most requests in flight (auto's MAX)
  // --connections auto[:MAX]: the requests in flight adapt to the server's latency
  // (policy/concurrency_controller.hpp), from a few up to `connections`.
  bool auto_connections = false;
  std::string control; // --control SOCKET: live control (status, pause, rate...); empty = none
  double rate = 0;     // requests per second over the whole run; 0 = unlimited
  double burst = 0;    // token bucket depth; 0 = max(1, rate / 10)
  unsigned max_attempts = 5;
  std::chrono::milliseconds attempt_timeout{30'000};
  std::chrono::milliseconds deadline{0};   // whole run; 0 = none
  std::chrono::milliseconds grace{10'000}; // how long in-flight work may finish on a signal
  // After an attempt that may have reached the server unanswered (timeout, reset, cut-off
  // answer), the job's next update waits this long, so that a late copy of the unanswered
  // request lands before it instead of undoing it. Negative = min(attempt timeout, 5 s).
  std::chrono::milliseconds settle{-1};

  std::string results;      // NDJSON results; empty = none
  std::string failed_out;   // failed lines, verbatim; empty = none
  std::string summary_json; // empty = none
  // --report FILE.html: the run's self-contained HTML report, written with the summary
  // however the run ends; empty = none.
  std::string report;
  bool resume = false;
  bool retry_failed = false; // --resume: send lines that failed for good before, too
  // Results reach the file every results_write_interval and the disk (fdatasync) every
  // fsync_interval, and once at the end of the run; 0 = only that once (faster, and a power
  // loss may lose more).
  std::chrono::milliseconds fsync_interval{100};
  bool force = false;        // overwrite an existing results file
  bool skip_invalid = false; // record invalid lines and go on
  // --shard K/N: this run takes the jobs whose id hashes to K-1 modulo N, so every update
  // of one job stays in one shard and keeps its order.
  std::uint32_t shard_index = 0, shard_count = 1;
  std::size_t max_line_bytes = 0; // 0 = default
  std::size_t window = 0;         // updates held in memory at once; 0 = automatic
  // Bytes of updates (bodies, raw lines, job ids) held at once; 0 = default_window_bytes.
  // At least one update is always held, whatever its size.
  std::size_t window_bytes = 0;

  // Read each job (GET) before its update. `plan`: read only, never PATCH (jobpatch plan);
  // the lines' plans go to the engine's plan_sink.
  bool plan = false;
  // A line whose fields already hold the values it sets is recorded `unchanged`, unsent.
  bool skip_unchanged = false;
  // The manifest that restores what the run changes (0600); empty = none.
  std::string undo_out;
  bool read_first() const noexcept { return plan || skip_unchanged || !undo_out.empty(); }
};

} // namespace jobpatch
