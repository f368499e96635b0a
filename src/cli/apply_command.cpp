// `jobpatch apply`: checks the inputs and outputs, runs the engine, reports, and picks the
// exit code.

#include "cli/commands.hpp"
#include "cli/output_guard.hpp"
#include "cli/resume_filter.hpp"
#include "net/apply_engine.hpp"
#include "net/net_errors.hpp"

#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/manifest/update_counter.hpp>
#include <jobpatch/results/result_sink.hpp>
#include <jobpatch/results/resume_state.hpp>
#include <jobpatch/stats/run_statistics.hpp>
#include <jobpatch/wire/proxy_config.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobpatch::cli {
namespace {

bool file_has_content(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

// The manifest, opened once. A regular file (however named: a path, "-" redirected from
// a file) is validated whole before the first request and then read again from where it
// started; anything else (a pipe, a FIFO, /dev/stdin on a pipe, <(...)) is a stream, read
// once, each line validated as it arrives.
struct manifest_input {
  int fd = -1;
  bool owned = false;
  bool stream = false;
  off_t start = 0;
  struct stat st {};
  const ids_template* ids = nullptr; // --ids: the input is a list of job ids

  manifest_input() = default;
  manifest_input(const manifest_input&) = delete;
  manifest_input& operator=(const manifest_input&) = delete;
  ~manifest_input() {
    if (owned && fd >= 0) ::close(fd);
  }
  // A reader from the current position; the descriptor stays ours.
  manifest_reader reader(std::size_t max_line_bytes) const {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) throw std::system_error(errno, std::generic_category(), "cannot dup manifest");
    manifest_reader r(copy, true, max_line_bytes);
    if (ids) r.use_ids_template(*ids);
    return r;
  }
  void rewind() const {
    if (::lseek(fd, start, SEEK_SET) < 0)
      throw std::system_error(errno, std::generic_category(), "cannot rewind the manifest");
  }
};

// Opens `path` ("-" is standard input); prints why and returns false when it cannot.
bool open_manifest(const std::string& path, manifest_input& in) {
  if (path == "-") {
    in.fd = STDIN_FILENO;
  } else {
    in.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in.fd < 0) {
      std::fprintf(stderr, "jobpatch: cannot open the manifest %s: %s\n", path.c_str(),
                   std::strerror(errno));
      return false;
    }
    in.owned = true;
  }
  if (::fstat(in.fd, &in.st) != 0) {
    std::fprintf(stderr, "jobpatch: cannot stat the manifest %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return false;
  }
  if (S_ISDIR(in.st.st_mode)) {
    std::fprintf(stderr, "jobpatch: the manifest %s is a directory; name an NDJSON file\n",
                 path.c_str());
    return false;
  }
  in.stream = !S_ISREG(in.st.st_mode);
  if (!in.stream) {
    in.start = ::lseek(in.fd, 0, SEEK_CUR);
    if (in.start < 0) in.stream = true; // cannot be read twice after all
  }
  if (!in.stream) ::posix_fadvise(in.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return true;
}

void say_empty(const std::string& manifest) {
  std::fprintf(stderr,
               "jobpatch: the manifest %s holds no updates (no non-blank line); nothing was "
               "sent\n",
               manifest.c_str());
}

// The first pass over a manifest file: every valid update's job goes to `repeats` (see
// repeat_finder), every invalid line to `invalid` when given. Returns the updates read;
// `lines_read` gets the lines (blank ones included). The file is rewound.
std::uint64_t first_pass(const manifest_input& in, line_source::options source_options,
                         repeat_finder& repeats, invalid_line_printer* invalid,
                         std::uint64_t& lines_read) {
  source_options.filter = nullptr;
  source_options.number_updates = false;
  source_options.repeated_jobs = nullptr;
  source_options.on_invalid = nullptr;
  line_source source(in.reader(source_options.max_line_bytes), source_options);
  source_item item;
  std::uint64_t updates = 0;
  while (source.next(item)) {
    ++updates;
    if (item.valid)
      repeats.add(job_hash_of(item.op.job_id));
    else if (invalid)
      invalid->add(item.error);
  }
  in.rewind();
  lines_read = source.lines_read();
  return updates;
}

// A filter of about 1 bit per 16 bytes of manifest (10 bits for a 160-byte line), at most
// 16 MiB: freed before sending starts.
repeat_finder repeat_finder_for(const manifest_input& in) {
  return repeat_finder(std::clamp<std::size_t>(static_cast<std::size_t>(in.st.st_size) / 128, 4096,
                                               std::size_t{16} << 20));
}

// Validates a whole manifest file before anything is sent; prints the first errors, and
// gives `repeats` every valid update's job.
// Returns the number of lines this run will settle, or nullopt (having said why) when some
// are invalid or there are none.
std::optional<std::uint64_t> count_valid_lines(const apply_options& options,
                                               const manifest_input& in,
                                               const line_source::options& source_options,
                                               repeat_finder& repeats) {
  invalid_line_printer invalid;
  std::uint64_t lines_read = 0;
  std::uint64_t lines = first_pass(in, source_options, repeats, &invalid, lines_read);
  if (lines_read == 0) {
    say_empty(options.manifest);
    return std::nullopt;
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

// `word` quoted for a POSIX shell when it needs it.
std::string shell_quoted(const std::string& word) {
  bool plain = !word.empty() &&
               word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
                                      "OPQRSTUVWXYZ0123456789-_./=:,+@%") == std::string::npos;
  if (plain) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// "Name: [redacted]": a header's value may be a secret (a gateway key).
std::string redacted_header(const std::string& header) {
  auto colon = header.find(':');
  return colon == std::string::npos ? header : header.substr(0, colon) + ": [redacted]";
}

// The command that finishes this run: the same one, as `jobpatch`, with --resume and
// without --force (which would discard what this run recorded).
std::string continue_command(int argc, const char* const* argv) {
  std::string out = "jobpatch";
  bool resume = false;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--force") continue;
    if (word == "--resume") resume = true;
    // A proxy's password and a header's value may be secrets: never printed.
    if (word.starts_with("--proxy=")) word = "--proxy=" + redacted_proxy_url(word.substr(8));
    std::string_view before = i > 1 ? argv[i - 1] : "";
    if (before == "--proxy") word = redacted_proxy_url(word);
    if (before == "-H" || before == "--header") word = redacted_header(word);
    if (word.starts_with("--header="))
      word = "--header=" + redacted_header(word.substr(9));
    else if (word.starts_with("-H") && word.size() > 2 && before != "--proxy")
      word = "-H" + redacted_header(word.substr(2));
    out += ' ';
    out += shell_quoted(word);
  }
  if (!resume) out += " --resume";
  return out;
}

// --undo-out with --resume: the fields each job's undo lines restore already, from the
// undo file an earlier run wrote (its first value of a field is the one from before).
std::vector<std::pair<std::string, field_mask>> restored_fields(const std::string& undo_path) {
  std::vector<std::pair<std::string, field_mask>> out;
  std::ifstream in(undo_path, std::ios::binary);
  std::string line;
  line_validator validator;
  operation op;
  std::uint64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    // A line cut short by a crash is not valid: its fields are read again this run.
    if (validator.validate(line, line.size(), number, op))
      out.emplace_back(op.job_id, fields_set_by(op));
  }
  return out;
}

} // namespace

int run_apply(apply_options options, const std::optional<ids_template>& ids,
              const std::string& api_key_file, run_monitor::settings monitor_settings, int argc,
              const char* const* argv) {
  if (std::string why = check_descriptors(options.connections); !why.empty()) {
    std::fprintf(stderr, "jobpatch: %s\n", why.c_str());
    return exit_usage;
  }
  if (!load_credentials(options.api_key, api_key_file, options.insecure)) return exit_usage;
  warn_if_key_in_clear(options.base_url);
  if (options.resume && options.results.empty()) {
    std::fprintf(stderr, "jobpatch: --resume needs --results FILE (the journal of earlier runs)\n");
    return exit_usage;
  }
  if (options.retry_failed && !options.resume) {
    std::fprintf(stderr, "jobpatch: --retry-failed only means something with --resume (without "
                         "it every line is sent)\n");
    return exit_usage;
  }
  manifest_input in;
  if (!open_manifest(options.manifest, in)) return exit_usage;
  if (ids) in.ids = &*ids;

  // Every output is a file of its own, none is an input, and each can be written: checked
  // before anything is sent, so a typo never costs a run.
  std::vector<named_file> inputs = {{ids ? "--ids" : "manifest", options.manifest, &in.st},
                                    {"--api-key-file", api_key_file, nullptr}};
  std::vector<named_file> outputs = {{"--results", options.results, nullptr},
                                     {"--failed-out", options.failed_out, nullptr},
                                     {"--summary-json", options.summary_json, nullptr},
                                     {"--metrics-file", monitor_settings.metrics_file, nullptr},
                                     {"--undo-out", options.undo_out, nullptr, true}};
  if (std::string why = check_outputs(inputs, outputs, {"--metrics-file"}); !why.empty()) {
    std::fprintf(stderr, "jobpatch: %s; nothing was sent\n", why.c_str());
    return exit_usage;
  }
  // One run per results or undo file: a second one would interleave its lines with ours.
  std::optional<output_lock> results_lock, undo_lock;
  auto lock = [](std::optional<output_lock>& held, const std::string& flag, const std::string& path,
                 mode_t mode) {
    if (path.empty() || path == "-") return true; // stdout: nothing to lock
    held.emplace(flag, path, mode);
    if (held->error().empty()) return true;
    std::fprintf(stderr, "jobpatch: %s; nothing was sent\n", held->error().c_str());
    return false;
  };
  if (!lock(results_lock, "--results", options.results, 0644) ||
      !lock(undo_lock, "--undo-out", options.undo_out, 0600))
    return exit_usage;
  if (!options.resume && !options.results.empty() && file_has_content(options.results) &&
      !options.force) {
    std::fprintf(stderr,
                 "jobpatch: %s already holds results; pass --resume to continue that run, or "
                 "--force to overwrite it\n",
                 options.results.c_str());
    return exit_usage;
  }
  if (!options.undo_out.empty() && options.undo_out != "-" && !options.resume && !options.force &&
      file_has_content(options.undo_out)) {
    std::fprintf(stderr,
                 "jobpatch: %s already holds undo lines (they may be all that can put jobs back); "
                 "pass --resume to add to them, or --force to overwrite them; nothing was sent\n",
                 options.undo_out.c_str());
    return exit_usage;
  }
  net::read_first_state read_first;
  if (options.resume && !options.undo_out.empty() && options.undo_out != "-")
    read_first.undo_fields = restored_fields(options.undo_out);
  run_status status;
  resume_state earlier;
  if (options.resume) {
    earlier = resume_state::load(options.results, status.notes);
    for (const auto& note : status.notes) std::fprintf(stderr, "jobpatch: %s\n", note.c_str());
    std::fprintf(stderr, "jobpatch: resuming: %zu lines were recorded ok by earlier runs\n",
                 earlier.ok_records());
    if (earlier.permanent_failures() && !options.retry_failed)
      std::fprintf(stderr,
                   "jobpatch: %zu lines failed for good (HTTP 400/403/404) in earlier runs: "
                   "not sent again unless --retry-failed\n",
                   earlier.permanent_failures());
  }
  line_source::options source_options;
  if (options.max_line_bytes) source_options.max_line_bytes = options.max_line_bytes;
  source_options.shard_index = options.shard_index;
  source_options.shard_count = options.shard_count;
  source_options.keep_raw_lines = !options.failed_out.empty();
  resume_filter resumed(earlier, options.retry_failed);
  if (options.resume) source_options.filter = &resumed;
  bool validated_whole = !in.stream && !options.skip_invalid;
  // The jobs with more than one update, found by a first pass over a file (validating it,
  // unless --skip-invalid): only those need counting for operation::seq, so a manifest of
  // distinct jobs costs no memory per job. A stream (read once) counts every job.
  update_counter repeated_jobs;
  if (!in.stream) {
    repeat_finder repeats = repeat_finder_for(in);
    if (validated_whole) {
      monitor_settings.total = count_valid_lines(options, in, source_options, repeats);
      if (!monitor_settings.total) return exit_usage;
    } else {
      std::uint64_t lines_read = 0; // an empty file is said after the run, as a stream's
      if (auto updates = first_pass(in, source_options, repeats, nullptr, lines_read))
        monitor_settings.total = updates;
    }
    repeated_jobs = repeats.take();
    source_options.repeated_jobs = &repeated_jobs;
  }
  // Invalid lines that do not stop the run (a stream's, --skip-invalid) are shown as they
  // arrive and recorded `invalid` while the rest proceeds.
  invalid_line_printer invalid;
  if (!validated_whole)
    source_options.on_invalid = [&invalid](const invalid_line& bad) { invalid.add(bad); };

  // One id per run, in every record, the summary JSON and the metrics: a monitor can tell
  // which run wrote what, and shards of one schedule apart.
  std::string run_id = make_run_id();
  monitor_settings.run_id = run_id;
  // The writer thread: every file write from here on happens there, not on the thread
  // that drives the connections. Its destructor writes out and joins on every way out.
  output_thread out;
  std::optional<result_sink> sink;
  try {
    sink.emplace(out, options.results,
                 options.resume ? file_writer::mode::append : file_writer::mode::truncate,
                 options.failed_out, run_id);
    if (!options.undo_out.empty())
      sink->open_undo(options.undo_out,
                      options.resume ? file_writer::mode::append : file_writer::mode::truncate);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch: %s; nothing was sent\n", e.what());
    return exit_usage;
  }
  run_statistics stats;
  line_source source(in.reader(source_options.max_line_bytes), source_options);
  run_monitor monitor(std::move(monitor_settings), stats, out);
  net::tick_callback on_tick;
  if (monitor.active())
    on_tick = [&monitor](const net::engine_tick& tick) { monitor.on_tick(tick); };
  auto start = std::chrono::steady_clock::now();
  auto unix_ms_now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::int64_t started_unix_ms = unix_ms_now();
  auto notes = std::move(status.notes);
  try {
    status = net::run_engine(options, source, *sink, stats, on_tick, std::chrono::milliseconds(250),
                             std::move(read_first));
  } catch (const net::unresolvable_host& e) {
    std::fprintf(stderr, "jobpatch: %s (check --base-url); nothing was sent\n", e.what());
    return exit_aborted;
  }
  status.notes.insert(status.notes.begin(), notes.begin(), notes.end());
  status.run_id = run_id;
  invalid.print_rest();

  // Lines the run never read (a deadline, an abort, a signal): listed in --failed-out with
  // the lines it read and did not send, so that feeding that file back completes the
  // manifest. A stream is not read further: it may never end.
  bool stopped = status.aborted || status.signal || status.deadline_exceeded;
  if (stopped && !in.stream) {
    source.reader().clear_cancel();
    source_item item;
    while (source.next(item))
      if (item.valid && !item.already_applied) {
        ++status.not_attempted;
        sink->record_unsent(item.raw_line);
      }
  }
  status.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  status.started_unix_ms = started_unix_ms;
  status.ended_unix_ms = unix_ms_now();
  status.manifest_lines = source.lines_read();
  if (options.shard_count > 1)
    status.shard =
        std::to_string(options.shard_index + 1) + "/" + std::to_string(options.shard_count);
  out.drain(true); // every record written and fdatasync'ed before the summary
  if (std::string error = out.progress().error; !status.output_failed && !error.empty()) {
    // The last write or fsync, after the engine had finished, failed.
    status.output_failed = status.aborted = true;
    status.abort_reason = "results could not be written at the end of the run: " + error;
  }

  if (source.lines_read() == 0 && !stopped) {
    say_empty(options.manifest);
    return exit_usage;
  }
  int code = exit_code_of(status, stats);
  monitor.finish(status, code);
  std::string summary = stats.summary_text(status);
  if (code != exit_ok && code != exit_usage && !options.results.empty()) {
    if (status.not_attempted && !options.failed_out.empty())
      summary += "the lines not sent are in " + options.failed_out + "\n";
    summary += "to continue: " + continue_command(argc, argv) + "\n";
    if (std::uint64_t refused = stats.failed_for_good() + stats.failed_earlier();
        refused && !options.retry_failed)
      summary += "(" + std::to_string(refused) +
                 " lines failed with HTTP 400/403/404: --resume does not send them again; fix "
                 "or remove them, or add --retry-failed)\n";
  }
  out.append_to(output_thread::standard_error) += summary;
  std::optional<output_thread::file_id> summary_json;
  if (!options.summary_json.empty()) {
    summary_json =
        out.add_whole(options.summary_json, write_file_whole, output_thread::kind::other);
    out.content(*summary_json) = stats.summary_json(status, code);
  }
  out.close();
  if (summary_json)
    if (std::string error = out.error_of(*summary_json); !error.empty())
      throw std::runtime_error(error);
  return code;
}

} // namespace jobpatch::cli

namespace jobpatch::cli {

int run_plan(apply_options options, const std::optional<ids_template>& ids,
             const std::string& api_key_file, const std::string& output) {
  options.plan = true;
  // Every line gets a plan: an invalid one is planned "invalid" and the rest go on.
  options.skip_invalid = true;
  if (std::string why = check_descriptors(options.connections); !why.empty()) {
    std::fprintf(stderr, "jobpatch: %s\n", why.c_str());
    return exit_usage;
  }
  if (!load_credentials(options.api_key, api_key_file, options.insecure)) return exit_usage;
  warn_if_key_in_clear(options.base_url);
  manifest_input in;
  if (!open_manifest(options.manifest, in)) return exit_usage;
  if (ids) in.ids = &*ids;
  std::vector<named_file> inputs = {{ids ? "--ids" : "manifest", options.manifest, &in.st},
                                    {"--api-key-file", api_key_file, nullptr}};
  if (std::string why = check_outputs(inputs, {{"--output", output, nullptr}}); !why.empty()) {
    std::fprintf(stderr, "jobpatch: %s; nothing was read\n", why.c_str());
    return exit_usage;
  }
  line_source::options source_options;
  if (options.max_line_bytes) source_options.max_line_bytes = options.max_line_bytes;
  invalid_line_printer invalid(0); // counted; the plan itself shows each one
  source_options.on_invalid = [&invalid](const invalid_line& bad) { invalid.add(bad); };
  source_options.number_updates = false; // a plan keys nothing
  // A file is read twice: the first pass finds the jobs with more than one update, so a
  // plan remembers what earlier lines would set for those jobs only.
  update_counter repeated_jobs;
  if (!in.stream) {
    repeat_finder repeats = repeat_finder_for(in);
    std::uint64_t lines_read = 0;
    first_pass(in, source_options, repeats, nullptr, lines_read);
    repeated_jobs = repeats.take();
    source_options.repeated_jobs = &repeated_jobs;
  }
  output_thread out; // writes the plan, as apply's records
  std::optional<plan_sink> plan;
  std::optional<result_sink> sink;
  try {
    // The plan is read on standard output, unless the NDJSON goes there.
    plan.emplace(out, output == "-" ? std::string() : std::string("-"), output);
    sink.emplace(out, std::string(), file_writer::mode::truncate, std::string());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch: %s; nothing was read\n", e.what());
    return exit_usage;
  }
  run_statistics stats;
  line_source source(in.reader(source_options.max_line_bytes), source_options);
  auto start = std::chrono::steady_clock::now();
  run_status status;
  net::read_first_state read_first;
  read_first.plan = &*plan;
  try {
    status = net::run_engine(options, source, *sink, stats, {}, std::chrono::milliseconds(250),
                             std::move(read_first));
  } catch (const net::unresolvable_host& e) {
    std::fprintf(stderr, "jobpatch: %s (check --base-url); nothing was read\n", e.what());
    return exit_aborted;
  }
  status.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.drain(true);
  if (std::string error = out.progress().error; !status.output_failed && !error.empty()) {
    status.output_failed = status.aborted = true;
    status.abort_reason = "the plan could not be written: " + error;
  }
  if (source.lines_read() == 0 && !status.aborted && !status.signal) {
    say_empty(options.manifest);
    return exit_usage;
  }
  std::string summary = plan->totals_text();
  for (const auto& note : status.notes) summary += "note: " + note + "\n";
  if (status.not_attempted)
    summary += std::to_string(status.not_attempted) + " lines were not read (the run stopped)\n";
  if (status.aborted) summary += "aborted: " + status.abort_reason + "\n";
  out.append_to(output_thread::standard_error) += summary;
  out.close();
  if (status.output_failed) return exit_output_failed;
  if (status.aborted) return exit_aborted;
  if (status.signal) return 128 + status.signal;
  bool all_planned = plan->count(plan_outcome::not_found) + plan->count(plan_outcome::failed) +
                         plan->count(plan_outcome::invalid) + status.not_attempted ==
                     0;
  return all_planned ? exit_ok : exit_some_failed;
}

} // namespace jobpatch::cli
