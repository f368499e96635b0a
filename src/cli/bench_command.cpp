// `jobpatch bench`: loads the manifest's updates, runs the open-loop benchmark, prints
// the summary and writes the JSON summary and the HTML report.

#include "cli/cli_options.hpp"
#include "cli/commands.hpp"
#include "cli/output_guard.hpp"
#include "net/bench_engine.hpp"
#include "net/net_errors.hpp"

#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/manifest/update_store.hpp>
#include <jobpatch/report/bench_baseline.hpp>
#include <jobpatch/report/bench_statistics.hpp>
#include <jobpatch/report/html_report.hpp>
#include <jobpatch/report/load_schedule.hpp>
#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/results/result_record.hpp>
#include <jobpatch/stats/progress_line.hpp>
#include <jobpatch/version.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace jobpatch::cli {
namespace {

using std::chrono::nanoseconds;

// The manifest's valid updates, at most options.max_lines of them (their count goes to
// `cycle`), in a compact store: they are cycled through for the whole run; each is read,
// validated and copied once, never on the hot path. Only the first `keep` are stored:
// request i sends update i % cycle, so with fewer requests scheduled than updates the
// rest are never sent; they are still validated. Prints the invalid lines and refuses
// (cli_error, exit 2) when there are any (as apply does: nothing is sent), or no update.
update_store load_updates(const bench_options& options, const std::optional<ids_template>& ids,
                          std::uint64_t keep, std::size_t& cycle, std::vector<std::string>& notes) {
  line_source::options source_options;
  if (options.max_line_bytes) source_options.max_line_bytes = options.max_line_bytes;
  source_options.number_updates = false; // bench keys nothing: no count per job
  manifest_reader reader = manifest_reader::open(options.manifest, source_options.max_line_bytes);
  if (ids) reader.use_ids_template(*ids);
  line_source source(std::move(reader), source_options);
  update_store ops;
  cycle = 0;
  source_item item;
  invalid_line_printer invalid;
  bool truncated = false;
  while (source.next(item)) {
    if (!item.valid) {
      invalid.add(item.error);
      continue;
    }
    if (cycle == options.max_lines) {
      truncated = true;
      break;
    }
    ++cycle;
    if (ops.size() < keep) ops.add(item.op); // copied: item's strings are reused
  }
  if (invalid.count()) {
    invalid.print_rest();
    refuse(std::to_string(invalid.count()) + " invalid lines; nothing was sent");
  }
  if (ops.empty()) refuse(options.manifest + " holds no updates to send");
  if (truncated)
    notes.push_back("the manifest has more than " + std::to_string(options.max_lines) +
                    " lines: only the first " + std::to_string(options.max_lines) +
                    " are sent, in a cycle (--max-lines)");
  return ops;
}

std::string seconds_text(double s) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", s);
  return text;
}

std::string rate_text(const rate_spec& rate) {
  char text[96];
  if (rate.is_ramp())
    std::snprintf(text, sizeof text, "%g/s rising linearly to %g/s", rate.start, rate.end);
  else
    std::snprintf(text, sizeof text, "%g/s", rate.start);
  return text;
}

// What the report and the JSON summary show of the run's settings; never the key.
std::vector<std::pair<std::string, std::string>> settings_of(const bench_options& options,
                                                             std::size_t lines) {
  std::string tls = options.base_url.starts_with("http://") ? "none (plain HTTP)"
                    : options.insecure                      ? "NOT verified (--insecure)"
                    : options.ca_file.empty()               ? "verified (system trust store)"
                                              : "verified (--cacert " + options.ca_file + ")";
  return {{"manifest", options.manifest + " (" + std::to_string(lines) + " updates, cycled)"},
          {"base URL", options.base_url},
          {"rate", rate_text(options.rate)},
          {"duration", seconds_text(std::chrono::duration<double>(options.duration).count())},
          {"connections", std::to_string(options.connections)},
          {"timeout per attempt",
           seconds_text(static_cast<double>(options.attempt_timeout.count()) / 1000)},
          {"max attempts", std::to_string(options.max_attempts)},
          {"TLS", tls},
          {"client", version_text()}};
}

bench_settings typed_settings_of(const bench_options& options, bool ids, std::size_t lines) {
  bench_settings s;
  s.manifest = options.manifest;
  s.ids = ids;
  s.updates = lines;
  s.base_url = options.base_url;
  s.rate_start = options.rate.start;
  s.rate_end = options.rate.end;
  s.duration_seconds = std::chrono::duration<double>(options.duration).count();
  s.connections = options.connections;
  s.timeout_seconds = static_cast<double>(options.attempt_timeout.count()) / 1000;
  s.max_attempts = options.max_attempts;
  s.tls = options.base_url.starts_with("http://") ? "plain"
          : options.insecure                      ? "insecure"
                                                  : "verified";
  s.client = version_text();
  return s;
}

// The --baseline file, read before anything is sent; refuses (cli_error, exit 2) when it
// is not a bench summary.
bench_run_figures load_baseline(const std::string& path) {
  std::string why;
  if (std::ifstream in(path, std::ios::binary); in) {
    std::ostringstream text;
    text << in.rdbuf();
    try {
      return read_bench_summary(text.str());
    } catch (const std::invalid_argument& e) {
      why = e.what();
    }
  } else {
    why = std::string("cannot read it: ") + std::strerror(errno);
  }
  refuse("--baseline " + path + ": " + why + "; nothing was sent");
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

// Intervals of the over-time charts: about 120 points whatever the duration, never
// finer than 100 ms.
nanoseconds timeline_bucket(nanoseconds duration) {
  constexpr nanoseconds step = std::chrono::milliseconds(100);
  auto width = duration / 120;
  return std::max(step, width / step * step);
}

int exit_code_of(const bench_run_info& info, const bench_statistics& stats) {
  if (info.aborted) return exit_aborted;
  if (info.signal) return 128 + info.signal;
  for (const auto& gate : info.gates)
    if (!gate.pass) return exit_gate_failed;
  if (stats.failed() || info.not_sent) return exit_some_failed;
  return exit_ok;
}

// Writes `text` to `path` (--summary-json or --report, named by `flag`), replacing an
// earlier file at once (never empty or torn); empty, or why it could not be written.
std::string write_output(const char* flag, const std::string& path, const std::string& text) {
  try {
    write_file_atomically(path, text);
  } catch (const std::exception& e) {
    return std::string(flag) + " " + path + " could not be written: " + e.what();
  }
  return {};
}

// Preflight: descriptors, the key, and the outputs, checked before the benchmark rather
// than found unwritable after it.
void check_bench_inputs(bench_options& options, const bench_command_options& extra,
                        const std::string& api_key_file) {
  check_descriptors(options.connections);
  load_credentials(options.api_key, api_key_file, options.insecure);
  warn_if_key_in_clear(options.base_url);
  check_connection_setup(options.base_url, options.ca_file, options.insecure, options.network);
  std::vector<named_file> inputs = {{extra.ids ? "--ids" : "manifest", options.manifest, nullptr},
                                    {"--api-key-file", api_key_file, nullptr}};
  if (options.manifest == "-") inputs.front().path.clear();
  inputs.push_back({"--baseline", extra.baseline, nullptr});
  std::vector<named_file> outputs = {{"--summary-json", options.summary_json, nullptr},
                                     {"--report", options.report, nullptr}};
  check_outputs(inputs, outputs, "nothing was sent", {"--summary-json", "--report"});
}

// Requests the schedule holds (the same for any start); refuses a bad --rate or --duration
// before the manifest is read.
std::uint64_t scheduled_requests(const bench_options& options) {
  try {
    return load_schedule(options.rate, options.duration, std::chrono::steady_clock::now())
        .total_requests();
  } catch (const std::invalid_argument& e) {
    refuse(e.what());
  }
}

// The progress line on stderr, when `mode` shows one; `line_shown` is set once drawn.
net::bench_tick progress_ticker(progress_mode mode, const bench_statistics& stats,
                                bool& line_shown) {
  if (!shows_progress(mode)) return {};
  return [&stats, &line_shown](const load_schedule& schedule,
                               std::chrono::steady_clock::time_point now) {
    bench_progress_snapshot p;
    p.elapsed = now - schedule.start();
    p.duration = schedule.duration();
    double seconds = std::chrono::duration<double>(p.elapsed).count();
    p.achieved_rate = bench_statistics::rate(stats.completed(), seconds);
    p.intended_rate = bench_statistics::rate(schedule.due_by(now), seconds);
    p.latency = &stats.latency();
    p.done = stats.completed();
    p.errors = stats.failed();
    std::fputs(format_bench_progress_line(p, terminal_width()).c_str(), stderr);
    std::fflush(stderr);
    line_shown = true;
  };
}

// This run beside --baseline, read back from its own summary JSON: both sides come
// through one reader.
html_report_input::baseline_view compare_with_baseline(const bench_run_figures& baseline,
                                                       const std::string& path,
                                                       const std::string& summary_json) {
  html_report_input::baseline_view comparison;
  comparison.label = path;
  if (!baseline.run_id.empty()) comparison.label += " (run " + baseline.run_id + ")";
  comparison.rows = compare_runs(read_bench_summary(summary_json), baseline);
  comparison.curves.emplace_back("all requests", baseline.curve);
  for (const auto& e : baseline.endpoints) comparison.curves.emplace_back(e.name, e.curve);
  return comparison;
}

// The report: gates, the summary on stderr, --summary-json and --report. Returns the exit
// code; an output that cannot be written is cli_error exit 4 once the rest is done.
int report_bench(const bench_options& options, const bench_command_options& extra,
                 const std::optional<bench_run_figures>& baseline, bench_run_info& info,
                 bench_statistics& stats) {
  info.gates = stats.evaluate_gates(extra.gates, info);
  int code = exit_code_of(info, stats);
  std::string summary_json = stats.summary_json(info, code);
  std::string summary = stats.summary_text(info);
  std::optional<html_report_input::baseline_view> comparison;
  if (baseline) {
    comparison = compare_with_baseline(*baseline, extra.baseline, summary_json);
    summary += comparison_text(comparison->rows, comparison->label);
  }
  std::fputs(summary.c_str(), stderr);
  std::string unwritten;
  if (!options.summary_json.empty())
    unwritten = write_output("--summary-json", options.summary_json, summary_json);
  if (!options.report.empty()) {
    html_report_input report = stats.report_input(info);
    report.baseline = std::move(comparison);
    report.generated_at = utc_now();
    std::string why = write_output("--report", options.report, render_html_report(report));
    if (why.empty())
      std::fprintf(stderr, "report: %s\n", options.report.c_str());
    else if (unwritten.empty())
      unwritten = why;
  }
  if (!unwritten.empty())
    throw cli_error(exit_output_failed, unwritten + " (the benchmark itself ended with exit code " +
                                            std::to_string(code) + ")");
  return code;
}

} // namespace

int run_bench_command(bench_options options, const bench_command_options& extra,
                      const std::string& api_key_file) {
  check_bench_inputs(options, extra, api_key_file);
  std::optional<bench_run_figures> baseline;
  if (!extra.baseline.empty()) baseline = load_baseline(extra.baseline);
  bench_run_info info;
  info.run_id = make_run_id();
  std::size_t cycle = 0;
  update_store ops =
      load_updates(options, extra.ids, std::max<std::uint64_t>(1, scheduled_requests(options)),
                   cycle, info.notes);
  for (const auto& note : info.notes) std::fprintf(stderr, "jobpatch: %s\n", note.c_str());
  info.settings = settings_of(options, cycle);
  info.typed_settings = typed_settings_of(options, extra.ids.has_value(), cycle);

  bench_statistics stats(timeline_bucket(options.duration));
  bool line_shown = false;
  // From the first request on, no failure is exit 2.
  try {
    net::run_bench(options, ops, stats, info, progress_ticker(extra.progress, stats, line_shown));
  } catch (const net::unresolvable_host& e) {
    throw cli_error(exit_aborted, std::string(e.what()) + " (check --base-url); nothing was sent");
  } catch (const std::exception& e) {
    throw cli_error(exit_aborted, std::string(e.what()) + "; the benchmark stopped");
  }
  if (line_shown) std::fputs(progress_line_clear, stderr);
  return report_bench(options, extra, baseline, info, stats);
}

} // namespace jobpatch::cli
