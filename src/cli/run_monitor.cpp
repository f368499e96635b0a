#include "cli/run_monitor.hpp"

#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/stats/metrics_file.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>

#include <sys/ioctl.h>
#include <sys/stat.h>
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
  m.concurrency_limit = stats.concurrency().current();
  m.concurrency_auto = stats.concurrency().automatic();
  return m;
}

// The last success an earlier run's metrics file names; 0 when there is none.
double earlier_last_success(const std::string& path) {
  // Only a regular file: a device (/dev/full reads zeros for ever) or a FIFO holds none.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  std::ifstream in(path);
  static constexpr std::string_view name = "jobpatch_last_success_timestamp_seconds ";
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(name)) {
      char* end = nullptr;
      double value = std::strtod(line.c_str() + name.size(), &end);
      return end != line.c_str() + name.size() && value > 0 ? value : 0;
    }
  return 0;
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
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
    last_success_ = earlier_last_success(settings_.metrics_file);
    metrics_ =
        out_.add_whole(settings_.metrics_file, write_file_atomically, output_thread::kind::other);
    write_metrics(std::nullopt, 0);
    out_.hand_over(false);
  }
}

void run_monitor::on_tick(const net::engine_tick& tick) {
  auto now = clock::now();
  last_tick_ = tick;
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
    p.in_flight = tick.in_flight;
    p.limit = tick.limit;
    p.limit_auto = stats_.concurrency().automatic();
    p.paused = tick.paused;
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

std::string run_monitor::finish(const run_status& status, int exit_code) {
  if (line_shown_) out_.latest(output_thread::standard_error).assign(progress_line_clear);
  if (metrics_) {
    if (exit_code == 0) last_success_ = unix_seconds_now();
    write_metrics(exit_code, status.wall_seconds);
  }
  out_.drain(false);
  if (!metrics_) return {};
  report_metrics_error();
  out_.drain(false);
  return metrics_error_;
}

void run_monitor::report_metrics_error() {
  if (!metrics_error_.empty()) return;
  std::string error = out_.error_of(*metrics_);
  if (error.empty()) return;
  // The run matters more than its metrics: say so once and go on (its exit code is 4).
  metrics_error_ = error;
  std::string& err = out_.append_to(output_thread::standard_error);
  if (line_shown_) err += progress_line_clear;
  err += "jobpatch: cannot write --metrics-file " + settings_.metrics_file + ": " + error + "\n";
}

void run_monitor::write_metrics(std::optional<int> exit_code, double wall_seconds) {
  metrics_snapshot m = snapshot_of(stats_);
  m.run_duration_seconds = wall_seconds;
  m.in_flight = last_tick_.in_flight;
  m.paused = last_tick_.paused;
  m.last_success_timestamp_seconds = last_success_;
  m.in_progress = !exit_code;
  m.exit_code = exit_code;
  m.run_id = settings_.run_id;
  m.shard = settings_.shard;
  // Written whole (temporary file, fsync, rename) by the writer thread.
  out_.content(*metrics_) = format_metrics(m);
}

} // namespace jobpatch::cli
