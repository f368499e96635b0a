// `jobpatch apply`: checks the inputs, runs the engine, reports, and picks the exit code.

#include "cli/commands.hpp"
#include "net/apply_engine.hpp"

#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/results/result_sink.hpp>
#include <jobpatch/results/resume_state.hpp>
#include <jobpatch/stats/run_statistics.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <sys/stat.h>

namespace jobpatch::cli {
namespace {

bool file_has_content(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

// Validates a whole manifest file before anything is sent; prints the first errors.
// Returns the number of lines this run will settle, or nullopt when some are invalid.
std::optional<std::uint64_t> count_valid_lines(const apply_options& options,
                                               const line_source::options& source_options) {
  line_source source(manifest_reader::open(options.manifest, source_options.max_line_bytes),
                     source_options);
  source_item item;
  std::uint64_t lines = 0;
  invalid_line_printer invalid;
  while (source.next(item)) {
    ++lines;
    if (!item.valid) invalid.add(item.error);
  }
  if (invalid.count() == 0) return lines;
  invalid.print_rest();
  std::fprintf(stderr,
               "jobpatch: %llu invalid lines; nothing was sent. Fix them, or pass --skip-invalid "
               "to apply the valid lines and record the rest as invalid\n",
               static_cast<unsigned long long>(invalid.count()));
  return std::nullopt;
}

int exit_code_of(const run_status& status, const run_statistics& stats) {
  if (status.output_failed) return exit_output_failed;
  if (status.aborted) return exit_aborted;
  if (status.signal) return 128 + status.signal;
  if (stats.count(outcome::failed) || stats.count(outcome::invalid) || status.not_attempted)
    return exit_some_failed;
  return exit_ok;
}

} // namespace

int run_apply(apply_options options, const std::string& api_key_file,
              run_monitor::settings monitor_settings) {
  if (!load_credentials(options.api_key, api_key_file, options.insecure)) return exit_usage;
  if (options.resume && options.results.empty()) {
    std::fprintf(stderr, "jobpatch: --resume needs --results FILE (the journal of earlier runs)\n");
    return exit_usage;
  }
  if (!options.resume && !options.results.empty() && file_has_content(options.results) &&
      !options.force) {
    std::fprintf(stderr,
                 "jobpatch: %s already holds results; pass --resume to continue that run, or "
                 "--force to overwrite it\n",
                 options.results.c_str());
    return exit_usage;
  }
  run_status status;
  resume_state earlier;
  if (options.resume) {
    earlier = resume_state::load(options.results, status.notes);
    for (const auto& note : status.notes) std::fprintf(stderr, "jobpatch: %s\n", note.c_str());
    std::fprintf(stderr, "jobpatch: resuming: %zu lines were recorded ok by earlier runs\n",
                 earlier.ok_records());
  }
  line_source::options source_options;
  if (options.max_line_bytes) source_options.max_line_bytes = options.max_line_bytes;
  source_options.shard_index = options.shard_index;
  source_options.shard_count = options.shard_count;
  source_options.keep_raw_lines = !options.failed_out.empty();
  source_options.resume = options.resume ? &earlier : nullptr;
  if (options.manifest != "-" && !options.skip_invalid) {
    monitor_settings.total = count_valid_lines(options, source_options);
    if (!monitor_settings.total) return exit_usage;
  }

  result_sink sink(options.results,
                   options.resume ? file_writer::mode::append : file_writer::mode::truncate,
                   options.failed_out);
  run_statistics stats;
  line_source source(manifest_reader::open(options.manifest, source_options.max_line_bytes),
                     source_options);
  run_monitor monitor(std::move(monitor_settings), stats);
  net::tick_callback on_tick;
  if (monitor.active())
    on_tick = [&monitor](const net::engine_tick& tick) { monitor.on_tick(tick); };
  auto start = std::chrono::steady_clock::now();
  auto notes = std::move(status.notes);
  status = net::run_engine(options, source, sink, stats, on_tick);
  status.notes.insert(status.notes.begin(), notes.begin(), notes.end());
  status.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sink.close();
  if (!status.output_failed && !sink.write_error().empty()) {
    // The last flush or fsync, after the engine had finished, failed.
    status.output_failed = status.aborted = true;
    status.abort_reason =
        "results could not be written at the end of the run: " + sink.write_error();
  }

  int code = exit_code_of(status, stats);
  monitor.finish(status, code);
  std::fputs(stats.summary_text(status).c_str(), stderr);
  if (!options.summary_json.empty()) {
    file_writer summary(options.summary_json, file_writer::mode::truncate);
    summary.write(stats.summary_json(status, code));
    summary.close();
  }
  return code;
}

} // namespace jobpatch::cli
