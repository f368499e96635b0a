// `jobpatch bench`: loads the manifest's updates, runs the open-loop benchmark, prints
// the summary and writes the JSON summary and the HTML report.

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
// rest are never sent; they are still validated. Prints what is wrong and returns
// nullopt when a line is invalid (as apply does: nothing is sent).
std::optional<update_store> load_updates(const bench_options& options,
                                         const std::optional<ids_template>& ids, std::uint64_t keep,
                                         std::size_t& cycle, std::vector<std::string>& notes) {
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
    std::fprintf(stderr, "jobpatch: %llu invalid lines; nothing was sent\n",
                 static_cast<unsigned long long>(invalid.count()));
    return std::nullopt;
  }
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

// The --baseline file, read before anything is sent; prints why and returns nullopt when it
// is not a bench summary.
std::optional<bench_run_figures> load_baseline(const std::string& path) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument(std::string("cannot read it: ") + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return read_bench_summary(text.str());
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "jobpatch: --baseline %s: %s; nothing was sent\n", path.c_str(), e.what());
    return std::nullopt;
  }
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

void write_file(const std::string& path, const std::string& text) {
  file_writer out(path, file_writer::mode::truncate);
  out.write(text);
  out.close();
}

} // namespace

int run_bench_command(bench_options options, const bench_command_options& extra,
                      const std::string& api_key_file) {
  const auto& ids = extra.ids;
  if (std::string why = check_descriptors(options.connections); !why.empty()) {
    std::fprintf(stderr, "jobpatch: %s\n", why.c_str());
    return exit_usage;
  }
  if (!load_credentials(options.api_key, api_key_file, options.insecure)) return exit_usage;
  warn_if_key_in_clear(options.base_url);
  // The outputs are checked before the benchmark, not found unwritable after it.
  std::vector<named_file> inputs = {{ids ? "--ids" : "manifest", options.manifest, nullptr},
                                    {"--api-key-file", api_key_file, nullptr}};
  if (options.manifest == "-") inputs.front().path.clear();
  inputs.push_back({"--baseline", extra.baseline, nullptr});
  std::vector<named_file> outputs = {{"--summary-json", options.summary_json, nullptr},
                                     {"--report", options.report, nullptr}};
  if (std::string why = check_outputs(inputs, outputs); !why.empty()) {
    std::fprintf(stderr, "jobpatch: %s; nothing was sent\n", why.c_str());
    return exit_usage;
  }
  std::optional<bench_run_figures> baseline;
  if (!extra.baseline.empty()) {
    baseline = load_baseline(extra.baseline);
    if (!baseline) return exit_usage;
  }
  bench_run_info info;
  info.run_id = make_run_id();
  // Requests the schedule holds (the same for any start; throws on a bad --rate or
  // --duration, before the manifest is read).
  std::uint64_t scheduled =
      load_schedule(options.rate, options.duration, std::chrono::steady_clock::now())
          .total_requests();
  std::size_t cycle = 0;
  auto ops = load_updates(options, ids, std::max<std::uint64_t>(1, scheduled), cycle, info.notes);
  if (!ops) return exit_usage;
  if (ops->empty()) {
    std::fprintf(stderr, "jobpatch: %s holds no updates to send\n", options.manifest.c_str());
    return exit_usage;
  }
  for (const auto& note : info.notes) std::fprintf(stderr, "jobpatch: %s\n", note.c_str());
  info.settings = settings_of(options, cycle);
  info.typed_settings = typed_settings_of(options, ids.has_value(), cycle);

  bench_statistics stats(timeline_bucket(options.duration));
  net::bench_tick on_tick;
  bool line_shown = false;
  if (shows_progress(extra.progress))
    on_tick = [&](const load_schedule& schedule, std::chrono::steady_clock::time_point now) {
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
  try {
    net::run_bench(options, *ops, stats, info, on_tick);
  } catch (const net::unresolvable_host& e) {
    std::fprintf(stderr, "jobpatch: %s (check --base-url); nothing was sent\n", e.what());
    return exit_aborted;
  }

  if (line_shown) std::fputs(progress_line_clear, stderr);
  info.gates = stats.evaluate_gates(extra.gates, info);
  int code = exit_code_of(info, stats);
  std::string summary_json = stats.summary_json(info, code);
  std::string summary = stats.summary_text(info);
  std::optional<html_report_input::baseline_view> comparison;
  if (baseline) {
    // This run read back from its own summary JSON: both sides come through one reader.
    bench_run_figures now = read_bench_summary(summary_json);
    comparison.emplace();
    comparison->label = extra.baseline;
    if (!baseline->run_id.empty()) comparison->label += " (run " + baseline->run_id + ")";
    comparison->rows = compare_runs(now, *baseline);
    comparison->curves.emplace_back("all requests", baseline->curve);
    for (const auto& e : baseline->endpoints) comparison->curves.emplace_back(e.name, e.curve);
    summary += comparison_text(comparison->rows, comparison->label);
  }
  std::fputs(summary.c_str(), stderr);
  if (!options.summary_json.empty()) write_file(options.summary_json, summary_json);
  if (!options.report.empty()) {
    html_report_input report = stats.report_input(info);
    report.baseline = std::move(comparison);
    report.generated_at = utc_now();
    write_file(options.report, render_html_report(report));
    std::fprintf(stderr, "report: %s\n", options.report.c_str());
  }
  return code;
}

} // namespace jobpatch::cli
