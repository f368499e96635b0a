#pragma once
// What an operator watches while `jobpatch apply` runs: the progress line on stderr
// (--progress) and the Prometheus metrics file (--metrics-file), both refreshed from the
// engine's ticks and written a last time when the run ends. Both are written by the
// writer thread (results/output_thread.hpp): the ticks only hand text over.

#include "net/apply_engine.hpp"

#include <jobpatch/results/output_thread.hpp>
#include <jobpatch/stats/progress_line.hpp>
#include <jobpatch/stats/run_statistics.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace jobpatch::cli {

enum class progress_mode { automatic, always, never };

// Parses "auto", "always" or "never".
std::optional<progress_mode> parse_progress_mode(const std::string& text);
// Whether `mode` shows a progress line: always, or auto when stderr is a terminal.
bool shows_progress(progress_mode mode);
// Columns of the terminal on stderr; 0 when unknown.
std::size_t terminal_width();

class run_monitor {
public:
  using clock = std::chrono::steady_clock;

  struct settings {
    progress_mode progress = progress_mode::automatic;
    std::optional<std::uint64_t> total; // lines the run will settle, when known
    std::string metrics_file;           // empty = none
    std::chrono::seconds metrics_interval{15};
    std::string shard;  // --shard K/N, a label of every metric; empty = none
    std::string run_id; // jobpatch_run_info{run_id=...}
  };

  // `out`: the writer thread of the run (the engine's io thread is its producer).
  run_monitor(settings s, const run_statistics& stats, output_thread& out);

  // True when either output is on: the engine need not tick otherwise.
  bool active() const noexcept { return show_progress_ || !settings_.metrics_file.empty(); }

  // The lines the run will settle, once the first pass knows.
  void set_total(std::optional<std::uint64_t> total) { settings_.total = total; }

  // From the engine's thread while the run goes on.
  void on_tick(const net::engine_tick& tick);
  // After the run, however it ended: erases the progress line (before the summary is
  // printed) and writes the final metrics with the exit code; returns once both are
  // written, with why the metrics file could not be written at some point of the run
  // (empty when it always could, or there is none).
  std::string finish(const run_status& status, int exit_code);

private:
  void write_metrics(std::optional<int> exit_code, double wall_seconds);
  // Says once (on stderr, through the writer) that the metrics file cannot be written.
  void report_metrics_error();

  settings settings_;
  const run_statistics& stats_;
  output_thread& out_;
  std::optional<output_thread::file_id> metrics_; // --metrics-file, written whole
  bool show_progress_;
  clock::time_point start_;
  clock::time_point last_metrics_;
  rate_meter rate_;
  std::uint64_t last_done_ = 0;
  net::engine_tick last_tick_; // in flight and paused, for the metrics file
  // jobpatch_last_success_timestamp_seconds: when the last run that succeeded (exit 0)
  // ended, carried over from the metrics file an earlier run left; this run's end once it
  // succeeds.
  double last_success_ = 0;
  std::string metrics_error_; // the first failure to write the metrics file
  bool line_shown_ = false;
};

} // namespace jobpatch::cli
