#include "cli/run_monitor.hpp"

#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/stats/metrics_file.hpp>

#include <cstdio>
#include <exception>

#include <sys/ioctl.h>
#include <unistd.h>

namespace jobpatch::cli {

std::size_t terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0) return size.ws_col;
  return 0;
}

bool shows_progress(progress_mode mode) {
  return mode == progress_mode::always ||
         (mode == progress_mode::automatic && ::isatty(STDERR_FILENO));
}

namespace {

metrics_snapshot snapshot_of(const run_statistics& stats) {
  metrics_snapshot m;
  m.lines_ok = stats.count(outcome::ok);
  m.lines_failed = stats.count(outcome::failed);
  m.lines_invalid = stats.count(outcome::invalid);
  m.lines_skipped = stats.count(outcome::skipped);
  m.lines_unchanged = stats.count(outcome::unchanged);
  m.lines_in_doubt = stats.in_doubt();
  m.attempts = stats.attempts();
  m.retries = stats.retries();
  m.latency = summarize_latency(stats.latency());
  m.requests_by_status = stats.status_counts();
  for (auto [cls, n] : stats.error_counts()) m.errors_by_class.emplace_back(identifier(cls), n);
  m.failed_by_reason = stats.failure_reasons();
  return m;
}

} // namespace

std::optional<progress_mode> parse_progress_mode(const std::string& text) {
  if (text == "auto") return progress_mode::automatic;
  if (text == "always") return progress_mode::always;
  if (text == "never") return progress_mode::never;
  return std::nullopt;
}

run_monitor::run_monitor(settings s, const run_statistics& stats, output_thread& out)
    : settings_(std::move(s)), stats_(stats), out_(out),
      show_progress_(shows_progress(settings_.progress)), start_(clock::now()),
      last_metrics_(start_), rate_(start_) {
  // A file that says "in progress" from the first second: a scrape can tell a run that
  // is stuck before its first answer from one that never started.
  if (!settings_.metrics_file.empty()) {
    metrics_ =
        out_.add_whole(settings_.metrics_file, write_file_atomically, output_thread::kind::other);
    write_metrics(std::nullopt, 0);
    out_.hand_over(false);
  }
}

void run_monitor::on_tick(const net::engine_tick& tick) {
  auto now = clock::now();
  // Derived from the ok count at tick granularity (250 ms): good enough for an alert on
  // "no success for N minutes", and nothing to do per line.
  if (std::uint64_t ok = stats_.count(outcome::ok); ok != last_ok_) {
    last_ok_ = ok;
    last_success_ =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  std::uint64_t done = stats_.total();
  rate_.record(now, done - last_done_);
  last_done_ = done;
  if (show_progress_) {
    progress_snapshot p;
    p.done = done;
    p.total = settings_.total;
    p.ok = stats_.count(outcome::ok);
    p.failed = stats_.count(outcome::failed);
    p.retrying = tick.retrying;
    p.rate = rate_.rate(now);
    p.latency = &stats_.latency();
    p.elapsed = now - start_;
    // Replaces a line not yet written: a stalled stderr gets the latest one only.
    out_.latest(output_thread::standard_error).assign(format_progress_line(p, terminal_width()));
    line_shown_ = true;
  }
  if (metrics_) {
    report_metrics_error();
    if (now - last_metrics_ >= settings_.metrics_interval) {
      last_metrics_ = now;
      write_metrics(std::nullopt, std::chrono::duration<double>(now - start_).count());
    }
  }
}

void run_monitor::finish(const run_status& status, int exit_code) {
  if (line_shown_) out_.latest(output_thread::standard_error).assign(progress_line_clear);
  if (metrics_) write_metrics(exit_code, status.wall_seconds);
  out_.drain(false);
  if (metrics_) {
    report_metrics_error();
    out_.drain(false);
  }
}

void run_monitor::report_metrics_error() {
  if (metrics_error_said_) return;
  std::string error = out_.error_of(*metrics_);
  if (error.empty()) return;
  // The run matters more than its metrics: say so once and go on.
  metrics_error_said_ = true;
  std::string& err = out_.append_to(output_thread::standard_error);
  if (line_shown_) err += progress_line_clear;
  err += "jobpatch: cannot write --metrics-file " + settings_.metrics_file + ": " + error + "\n";
}

void run_monitor::write_metrics(std::optional<int> exit_code, double wall_seconds) {
  metrics_snapshot m = snapshot_of(stats_);
  m.run_duration_seconds = wall_seconds;
  m.last_success_timestamp_seconds = last_success_;
  m.in_progress = !exit_code;
  m.exit_code = exit_code;
  m.run_id = settings_.run_id;
  m.shard = settings_.shard;
  // Written whole (temporary file, fsync, rename) by the writer thread.
  out_.content(*metrics_) = format_metrics(m);
}

} // namespace jobpatch::cli
