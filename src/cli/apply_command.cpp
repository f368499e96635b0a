// `jobpatch apply` in phases: preflight (settings, manifest, outputs and their locks),
// resume load, first pass over a manifest file, the run, the report and its exit code.
// Before the run a phase refuses with cli_error exit 2 (nothing was sent); from the run on
// a failure is exit 3 or 4, never 2. `jobpatch plan` is the same run that only reads
// (options.plan): the same phases, instruments and one exit path, its plan as its records.

#include "cli/cli_options.hpp"
#include "cli/commands.hpp"
#include "cli/output_guard.hpp"
#include "cli/resume_filter.hpp"
#include "net/apply_engine.hpp"
#include "net/control_socket.hpp"
#include "net/net_errors.hpp"

#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/manifest/update_counter.hpp>
#include <jobpatch/report/apply_report.hpp>
#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/results/plan_record.hpp>
#include <jobpatch/results/result_sink.hpp>
#include <jobpatch/results/resume_state.hpp>
#include <jobpatch/stats/run_statistics.hpp>
#include <jobpatch/text/json_writer.hpp>
#include <jobpatch/text/timestamp.hpp>
#include <jobpatch/version.hpp>
#include <jobpatch/wire/proxy_config.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobpatch::cli {
namespace {

// A regular file with something in it ("-", empty: none).
bool file_has_content(const std::string& path) {
  struct stat st {};
  return !path.empty() && path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         st.st_size > 0;
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

// Opens `path` ("-" is standard input); refuses (cli_error, exit 2) when it cannot.
void open_manifest(const std::string& path, manifest_input& in) {
  if (path == "-") {
    in.fd = STDIN_FILENO;
  } else {
    in.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in.fd < 0) refuse("cannot open the manifest " + path + ": " + std::strerror(errno));
    in.owned = true;
  }
  if (::fstat(in.fd, &in.st) != 0)
    refuse("cannot stat the manifest " + path + ": " + std::strerror(errno));
  if (S_ISDIR(in.st.st_mode))
    refuse("the manifest " + path + " is a directory; name an NDJSON file");
  in.stream = !S_ISREG(in.st.st_mode);
  if (!in.stream) {
    in.start = ::lseek(in.fd, 0, SEEK_CUR);
    if (in.start < 0) in.stream = true; // cannot be read twice after all
  }
  if (!in.stream) ::posix_fadvise(in.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

// What a refusal before the run leaves undone: apply sends nothing, plan reads nothing.
const char* nothing_done(const apply_options& options) {
  return options.plan ? "nothing was read" : "nothing was sent";
}

std::string empty_manifest(const apply_options& options) {
  return "the manifest " + options.manifest + " holds no updates (no non-blank line); " +
         nothing_done(options);
}

// The first pass over a manifest file: every valid update's job goes to `repeats` (see
// repeat_finder), every invalid line to `invalid` when given. Returns the updates read;
// `lines_read` gets the lines (blank ones included). The file is rewound.
std::uint64_t scan_manifest(const manifest_input& in, line_source::options source_options,
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
// gives `repeats` every valid update's job. Returns the number of lines this run will
// settle; refuses (cli_error, exit 2) when some are invalid or there are none.
std::uint64_t count_valid_lines(const apply_options& options, const manifest_input& in,
                                const line_source::options& source_options,
                                repeat_finder& repeats) {
  invalid_line_printer invalid;
  std::uint64_t lines_read = 0;
  std::uint64_t lines = scan_manifest(in, source_options, repeats, &invalid, lines_read);
  if (lines_read == 0) refuse(empty_manifest(options));
  if (invalid.count() == 0) return lines;
  invalid.print_rest();
  refuse(std::to_string(invalid.count()) +
         " invalid lines; nothing was sent. Fix them, or pass --skip-invalid to apply the valid "
         "lines and record the rest as invalid");
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
// without --force (which would discard what this run recorded) or --force-undo (which
// would start yet another undo file, and is refused with --resume).
std::string continue_command(int argc, const char* const* argv) {
  std::string out = "jobpatch";
  bool resume = false;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word == "--force" || word == "--force-undo") continue;
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
  // Undo lines are written ahead of their PATCH: a torn last one (a crash mid-write) had
  // its PATCH never sent. Cut off, so this run's lines follow whole ones.
  if (std::size_t cut = cut_torn_tail(undo_path))
    std::fprintf(stderr,
                 "jobpatch: cut a torn last undo line (%zu bytes without a line end) off %s: "
                 "its PATCH was never sent\n",
                 cut, undo_path.c_str());
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

// One apply (or plan) run, filled phase by phase. Its parts point at each other (the line
// source's filter at `resumed`, its counter at `repeated_jobs`, the monitor at `stats`):
// it is never copied or moved.
struct apply_run {
  manifest_input in;
  std::optional<output_lock> results_lock, undo_lock;
  // Resume load.
  net::read_first_state read_first;
  std::vector<std::string> notes; // about the earlier results, for the summary
  resume_state earlier;
  std::optional<resume_filter> resumed;
  // First pass.
  line_source::options source_options;
  update_counter repeated_jobs;
  invalid_line_printer invalid; // lines that do not stop the run (a stream's, --skip-invalid)
  // The run.
  std::string run_id;
  run_monitor::settings monitor_settings;
  std::vector<std::pair<std::string, std::string>> report_settings; // --report's, no secrets
  std::chrono::steady_clock::time_point started{};
  std::int64_t started_unix_ms = 0;
  // Whether the outputs passed check_outputs: a refusal writes its summary, report and
  // metrics only through paths that did.
  enum class outputs { unchecked, refused, accepted } outputs_state = outputs::unchecked;
  // The writer thread: every file write from here on happens there, not on the thread
  // that drives the connections. Its destructor writes out and joins on every way out.
  output_thread out;
  std::optional<result_sink> sink;
  std::optional<plan_sink> plan; // jobpatch plan: each line's plan, and its totals
  run_statistics stats;
  std::optional<line_source> source;
  std::optional<run_monitor> monitor;
};

// Preflight, the settings: descriptors, the key, and the flags that need one another.
void check_settings(apply_options& options, const apply_command_options& extra) {
  check_descriptors(options.connections);
  if (!options.control.empty()) {
    try {
      net::check_control_path(options.control);
    } catch (const std::runtime_error& e) {
      refuse(std::string("--control: ") + e.what());
    }
  }
  load_credentials(options.api_key, extra.api_key_file, options.insecure);
  warn_if_key_in_clear(options.base_url);
  check_connection_setup(options.base_url, options.ca_file, options.insecure, options.network);
  if (options.resume && options.results.empty())
    refuse("--resume needs --results FILE (the journal of earlier runs)");
  if (options.retry_failed && !options.resume)
    refuse("--retry-failed only means something with --resume (without it every line is "
           "sent)");
  if (extra.force_undo && options.undo_out.empty())
    refuse("--force-undo only means something with --undo-out FILE (it keeps the lines FILE "
           "holds as FILE.1 and starts a new FILE)");
  if (extra.force_undo && options.resume)
    refuse("--force-undo starts a new undo file and --resume adds to the one there: pass one "
           "of them");
}

// Preflight: what earlier runs left is never lost by mistake. Without --resume, a results
// file that holds records is overwritten only with --force; an undo file that holds lines
// never is (they may be all that can put jobs back): with --force-undo it is kept as
// FILE.N and a new one started (open_sink). One message names every file in the way.
void refuse_overwrites(const apply_options& options, const apply_command_options& extra) {
  if (options.resume) return;
  bool results = !options.force && file_has_content(options.results);
  bool undo = !extra.force_undo && file_has_content(options.undo_out);
  std::string kept =
      file_has_content(options.undo_out) ? first_free_numbered(options.undo_out) : std::string();
  if (extra.force_undo && file_has_content(options.undo_out) && kept.empty())
    refuse("--force-undo: " + options.undo_out + ".1 to " + options.undo_out +
           ".9999 all exist; move some away; nothing was sent");
  if (!undo) {
    if (results)
      refuse(options.results +
             " already holds results; pass --resume to continue that run, or --force to "
             "overwrite it");
    return;
  }
  std::string undo_lines = options.undo_out + " already holds undo lines (they may be all that "
                                              "can put jobs back)";
  std::string keep = "--force-undo to keep them as " +
                     (kept.empty() ? options.undo_out + ".N" : kept) + " and start a new file";
  if (results)
    refuse(options.results + " already holds results and " + undo_lines +
           "; pass --resume to continue that run and add to them, or --force " + keep +
           "; nothing was sent");
  refuse(std::string(options.force ? "--force never overwrites undo lines: " : "") + undo_lines +
         "; pass --resume to add to them, or " + keep + "; nothing was sent");
}

// What --report shows of the run's settings. Never a secret: not the key, a header, the
// proxy, nor a base URL's user or query.
std::vector<std::pair<std::string, std::string>> report_settings(const apply_options& options,
                                                                 const apply_command_options& extra,
                                                                 const std::string& run_id) {
  char rate[48];
  std::snprintf(rate, sizeof rate, "%g/s", options.rate);
  char timeout[48];
  std::snprintf(timeout, sizeof timeout, "%g s",
                static_cast<double>(options.attempt_timeout.count()) / 1000);
  std::string connections = std::to_string(options.connections);
  std::string tls = options.base_url.starts_with("http://") ? "none (plain HTTP)"
                    : options.insecure                      ? "NOT verified (--insecure)"
                    : options.ca_file.empty()               ? "verified (system trust store)"
                                              : "verified (--cacert " + options.ca_file + ")";
  std::vector<std::pair<std::string, std::string>> settings = {
      {"manifest", (options.manifest == "-" ? std::string("standard input") : options.manifest) +
                       (extra.ids ? " (--ids: a list of job ids)" : "")},
      {"base URL", shown_base_url(options.base_url)},
      {"connections", options.auto_connections ? "auto:" + connections : connections},
      {"rate", options.rate > 0 ? std::string(rate) : std::string("no limit")},
      {"timeout per attempt", timeout},
      {"max attempts", std::to_string(options.max_attempts)},
      {"TLS", tls}};
  if (options.shard_count > 1)
    settings.emplace_back("shard", std::to_string(options.shard_index + 1) + "/" +
                                       std::to_string(options.shard_count));
  settings.emplace_back("run id", run_id);
  settings.emplace_back("client", version_text());
  return settings;
}

// `manifest`: the manifest's fstat once it is open, else null (looked up by its path).
std::vector<named_file> input_files(const apply_options& options,
                                    const apply_command_options& extra,
                                    const struct stat* manifest) {
  std::vector<named_file> inputs = {{"--api-key-file", extra.api_key_file, nullptr}};
  if (manifest || options.manifest != "-")
    inputs.push_back({extra.ids ? "--ids" : "manifest", options.manifest, manifest});
  return inputs;
}

std::vector<named_file> output_files(const apply_options& options,
                                     const apply_command_options& extra,
                                     const std::string& metrics_file) {
  return {{"--output", extra.plan_output, nullptr},
          {"--results", options.results, nullptr},
          {"--failed-out", options.failed_out, nullptr},
          {"--summary-json", options.summary_json, nullptr},
          {"--metrics-file", metrics_file, nullptr},
          {"--report", options.report, nullptr},
          {"--undo-out", options.undo_out, nullptr, true},
          {"--control", options.control, nullptr}};
}

// The outputs put in place by a rename from beside them, never opened where they are:
// the whole files (replacing_file) and --control's socket (bound beside it).
std::vector<std::string> whole_outputs() {
  return {"--metrics-file", "--summary-json", "--report", "--control"};
}

// Preflight, the files: the manifest opened; every output a file of its own, none an
// input, each writable; --results and --undo-out locked, and not overwritten by mistake.
// Checked before anything is sent, so a typo never costs a run.
void guard_files(const apply_options& options, const apply_command_options& extra,
                 const std::string& metrics_file, apply_run& run) {
  open_manifest(options.manifest, run.in);
  if (extra.ids) run.in.ids = &*extra.ids;
  run.outputs_state = apply_run::outputs::refused;
  check_outputs(input_files(options, extra, &run.in.st), output_files(options, extra, metrics_file),
                nothing_done(options), whole_outputs());
  run.outputs_state = apply_run::outputs::accepted;
  // One run per results or undo file: a second one would interleave its lines with ours.
  if (!options.results.empty() && options.results != "-")
    run.results_lock.emplace("--results", options.results, 0644);
  if (!options.undo_out.empty() && options.undo_out != "-")
    run.undo_lock.emplace("--undo-out", options.undo_out, 0600);
  refuse_overwrites(options, extra);
}

// Resume load: what earlier runs recorded (--resume), and the fields their undo lines
// restore already (--undo-out with --resume).
void load_resume(const apply_options& options, apply_run& run) {
  if (!options.resume) return;
  if (!options.undo_out.empty() && options.undo_out != "-")
    run.read_first.undo_fields = restored_fields(options.undo_out);
  run.earlier = resume_state::load(options.results, run.notes);
  for (const auto& note : run.notes) std::fprintf(stderr, "jobpatch: %s\n", note.c_str());
  std::fprintf(stderr, "jobpatch: resuming: %zu lines were recorded ok by earlier runs\n",
               run.earlier.ok_records());
  if (run.earlier.permanent_failures() && !options.retry_failed)
    std::fprintf(stderr,
                 "jobpatch: %zu lines failed for good (HTTP 400/403/404) in earlier runs: "
                 "not sent again unless --retry-failed\n",
                 run.earlier.permanent_failures());
  run.resumed.emplace(run.earlier, options.retry_failed);
}

// First pass: the line source's options, and the jobs with more than one update, found by
// a first pass over a file (validating it, unless --skip-invalid): only those need
// counting for operation::seq, so a manifest of distinct jobs costs no memory per job. A
// stream (read once) counts every job. Returns the lines the run will settle, when known;
// refuses (exit 2) a file with invalid lines (unless --skip-invalid) or none. A plan keys
// nothing, and remembers what earlier lines would set for the jobs found twice only.
std::optional<std::uint64_t> first_pass(const apply_options& options, apply_run& run) {
  line_source::options& source_options = run.source_options;
  if (options.max_line_bytes) source_options.max_line_bytes = options.max_line_bytes;
  source_options.number_updates = !options.plan;
  source_options.shard_index = options.shard_index;
  source_options.shard_count = options.shard_count;
  source_options.keep_raw_lines = !options.failed_out.empty();
  if (run.resumed) source_options.filter = &*run.resumed;
  bool validated_whole = !run.in.stream && !options.skip_invalid;
  std::optional<std::uint64_t> total;
  if (!run.in.stream) {
    repeat_finder repeats = repeat_finder_for(run.in);
    if (validated_whole) {
      total = count_valid_lines(options, run.in, source_options, repeats);
    } else {
      std::uint64_t lines_read = 0; // an empty file is said after the run, as a stream's
      if (auto updates = scan_manifest(run.in, source_options, repeats, nullptr, lines_read))
        total = updates;
    }
    run.repeated_jobs = repeats.take();
    source_options.repeated_jobs = &run.repeated_jobs;
  }
  // Invalid lines that do not stop the run are shown as they arrive and recorded
  // `invalid` while the rest proceeds (a plan shows each one itself).
  if (!validated_whole && !options.plan)
    source_options.on_invalid = [&invalid = run.invalid](const invalid_line& bad) {
      invalid.add(bad);
    };
  return total;
}

// --force-undo: the undo lines an earlier run left are kept as FILE.N (renamed, never
// copied or overwritten), and this run's go to a new FILE, locked as the old one was.
// Refuses (exit 2) when the file cannot be renamed.
void start_new_undo_file(const std::string& path, apply_run& run) {
  if (!file_has_content(path)) return;
  std::string kept;
  try {
    kept = move_to_numbered(path);
  } catch (const std::system_error& e) {
    refuse(std::string("--force-undo: ") + e.what() + "; nothing was sent");
  }
  std::fprintf(stderr,
               "jobpatch: --force-undo: the undo lines %s held are kept in %s; this run's go to a "
               "new %s\n",
               path.c_str(), kept.c_str(), path.c_str());
  run.undo_lock.reset();
  run.undo_lock.emplace("--undo-out", path, 0600);
}

// A plan's outputs: the text on standard output, unless the NDJSON (--output) goes there.
// Its result sink writes no file.
void open_plan_sink(const std::string& output, apply_run& run) {
  try {
    run.plan.emplace(run.out, output == "-" ? std::string() : std::string("-"), output);
    run.sink.emplace(run.out, std::string(), file_writer::mode::truncate, std::string());
  } catch (const std::exception& e) {
    refuse(std::string(e.what()) + "; nothing was read");
  }
  run.read_first.plan = &*run.plan;
}

// The results, failed-lines and undo files, opened (results and failed lines truncated,
// or appended to with --resume) as the last step before sending; refuses (exit 2) when
// one cannot be. The undo file is only ever appended to: without --resume it is empty
// here (refuse_overwrites, start_new_undo_file). A plan opens its own.
void open_sink(const apply_options& options, const apply_command_options& extra, apply_run& run) {
  if (options.plan) return open_plan_sink(extra.plan_output, run);
  if (extra.force_undo) start_new_undo_file(options.undo_out, run);
  auto mode = options.resume ? file_writer::mode::append : file_writer::mode::truncate;
  try {
    run.sink.emplace(run.out, options.results, mode, options.failed_out, run.run_id);
    if (!options.undo_out.empty()) run.sink->open_undo(options.undo_out, file_writer::mode::append);
  } catch (const std::exception& e) {
    refuse(std::string(e.what()) + "; nothing was sent");
  }
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Lines the run never read (a deadline, an abort, a signal): listed in --failed-out with
// the lines it read and did not send, so that feeding that file back completes the
// manifest. A stream is not read further: it may never end.
void record_unread(apply_run& run, run_status& status) {
  if (run.in.stream) return;
  run.source->reader().clear_cancel();
  source_item item;
  while (run.source->next(item))
    if (item.valid && !item.already_applied) {
      ++status.not_attempted;
      run.sink->record_unsent(item.raw_line);
    }
}

// What the summary says of the run besides its counts: its id, notes, shard, timing and
// the manifest lines read so far (not while the reader thread may still be reading:
// `reader_done` false leaves them unknown). Filled however the run ends.
void complete_status(const apply_options& options, const apply_run& run, run_status& status,
                     bool reader_done = true) {
  status.notes.insert(status.notes.begin(), run.notes.begin(), run.notes.end());
  status.run_id = run.run_id;
  if (run.started_unix_ms) {
    status.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - run.started).count();
    status.started_unix_ms = run.started_unix_ms;
    status.ended_unix_ms = unix_ms_now();
  }
  if (run.source && reader_done) status.manifest_lines = run.source->lines_read();
  if (options.shard_count > 1)
    status.shard =
        std::to_string(options.shard_index + 1) + "/" + std::to_string(options.shard_count);
}

// Writes `text` to `path` (a summary, a report) on the writer thread, replacing an earlier
// file at once (never empty or torn); empty, or why it could not be written.
std::string write_whole_file(output_thread& out, const std::string& path, const std::string& text) {
  if (path.empty()) return {};
  auto id = out.add_whole(path, write_file_atomically, output_thread::kind::other);
  out.content(id) = text;
  out.drain(false);
  return out.error_of(id);
}

// --report: the run's HTML report, saying it ended with `code`.
std::string report_html(const apply_run& run, const run_status& status, int code) {
  html_report_input in = apply_report_input(run.stats, status, code);
  in.settings = run.report_settings;
  in.generated_at = format_timestamp(unix_ms_now());
  return render_html_report(in);
}

// Adds "FLAG PATH could not be written: WHY" to `error` (parts joined by "; ") when there
// is a why.
void add_error(std::string& error, const std::string& flag, const std::string& path,
               const std::string& why) {
  if (why.empty()) return;
  error += (error.empty() ? "" : "; ") + flag + " " + path + " could not be written: " + why;
}

// The one way out of an apply or plan run, however it ends (finished, refused before
// sending, aborted, an output that failed, a signal, a second signal): the summary JSON
// (with a plan's totals), the HTML report and the final metrics, each replaced whole, say
// how it ended and with which exit code. Returns that code: 4 when one of them could not
// be written once sending (or reading) began (`error` then says which, and those that
// could be written say 4), else `code`.
int write_last_words(const apply_options& options, apply_run& run, const run_status& status,
                     int code, std::string& error) {
  if (!run.monitor) run.monitor.emplace(run.monitor_settings, run.stats, run.out);
  // A plan's summary has its totals, zero when it was refused before its sink opened.
  if (options.plan && !run.plan) run.plan.emplace(run.out, std::string(), std::string());
  std::function<void(json_writer&)> plan_totals;
  if (run.plan) plan_totals = [&plan = *run.plan](json_writer& json) { plan.totals_json(json); };
  bool sent = code != exit_usage;
  std::string summary_error, report_error;
  // The summary and the report say `said`: each one written so far is written again when
  // the code becomes 4.
  auto write_files = [&](int said) {
    if (summary_error.empty())
      summary_error = write_whole_file(run.out, options.summary_json,
                                       run.stats.summary_json(status, said, plan_totals));
    if (report_error.empty() && !options.report.empty())
      report_error = write_whole_file(run.out, options.report, report_html(run, status, said));
  };
  write_files(code);
  int final_code = code;
  if (sent && (!summary_error.empty() || !report_error.empty())) {
    final_code = exit_output_failed;
    write_files(final_code);
  }
  std::string metrics_error = run.monitor->finish(status, final_code);
  if (sent && !metrics_error.empty() && final_code != exit_output_failed) {
    final_code = exit_output_failed;
    write_files(final_code);
  }
  add_error(error, "--summary-json", options.summary_json, summary_error);
  add_error(error, "--report", options.report, report_error);
  add_error(error, "--metrics-file", run.monitor_settings.metrics_file, metrics_error);
  return final_code;
}

// A refusal before anything was sent (exit 2) still leaves its summary, report and metrics,
// when their paths are usable: a monitor alerting on the exit code hears of it.
void write_refusal(const apply_options& options, const apply_command_options& extra, apply_run& run,
                   const std::string& why) {
  if (run.outputs_state == apply_run::outputs::refused) return; // the refusal says why
  if (run.outputs_state == apply_run::outputs::unchecked) {
    try {
      check_outputs(input_files(options, extra, nullptr),
                    output_files(options, extra, run.monitor_settings.metrics_file), {},
                    whole_outputs());
    } catch (const cli_error&) {
      return; // an output in the way: nothing is written
    }
  }
  run_status status;
  status.aborted = true;
  status.abort_reason = why;
  complete_status(options, run, status);
  std::string error;
  write_last_words(options, run, status, exit_usage, error);
  if (!error.empty()) std::fprintf(stderr, "jobpatch: %s\n", error.c_str());
}

// JOBPATCH_TEST_HOLD_AFTER_ENGINE=FILE (tests only): once the engine has ended, creates
// FILE.held and waits until FILE exists, so that a test can send a signal between the
// engine's end and the summary, where SIGINT and SIGTERM are ignored (run_control).
void hold_after_engine_for_test() {
  const char* file = std::getenv("JOBPATCH_TEST_HOLD_AFTER_ENGINE");
  if (file == nullptr || *file == '\0') return;
  std::ofstream(std::string(file) + ".held") << "held\n";
  while (::access(file, F_OK) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// The run: the engine over the manifest, then the lines it never read, timing and the
// closed sink. Returns how it went (a write error as status.output_failed, a host that
// does not resolve as an abort).
run_status send_updates(const apply_options& options, apply_run& run) {
  run.source.emplace(run.in.reader(run.source_options.max_line_bytes), run.source_options);
  run.monitor.emplace(run.monitor_settings, run.stats, run.out);
  net::engine_hooks hooks;
  if (run.monitor->active())
    hooks.on_tick = [&monitor = *run.monitor](const net::engine_tick& tick) {
      monitor.on_tick(tick);
    };
  // A second signal leaves at once, through the same last words.
  hooks.on_leave_now = [&options, &run](const run_status& so_far, int code) {
    run_status status = so_far;
    complete_status(options, run, status, false); // the reader thread may be mid-line
    std::string error;
    write_last_words(options, run, status, code, error);
    if (!error.empty()) run.out.append_to(output_thread::standard_error) += error + "\n";
  };
  hooks.lines_total = run.monitor_settings.total;
  run.started = std::chrono::steady_clock::now();
  run.started_unix_ms = unix_ms_now();
  run_status status;
  try {
    status = net::run_engine(options, *run.source, *run.sink, run.stats, hooks, run.read_first);
  } catch (const net::unresolvable_host& e) {
    status.aborted = true;
    status.abort_reason = std::string(e.what()) + " (check --base-url); " + nothing_done(options);
  }
  hold_after_engine_for_test();
  run.invalid.print_rest();
  if (status.aborted || status.signal || status.deadline_exceeded) record_unread(run, status);
  complete_status(options, run, status);
  run.out.drain(true); // every record written and fdatasync'ed before the summary
  if (std::string error = run.out.progress().error; !status.output_failed && !error.empty()) {
    // The last write or fsync, after the engine had finished, failed.
    status.output_failed = status.aborted = true;
    status.abort_reason = (options.plan ? "the plan could not be written: "
                                        : "results could not be written at the end of the run: ") +
                          error;
  }
  return status;
}

// The summary's last lines for a run that did not apply everything: where the unsent lines
// are, and the command that continues it.
// `write_error`: the first write error, after which the writer wrote nothing more.
std::string continue_hint(const apply_options& options, const run_statistics& stats,
                          const run_status& status, const std::string& write_error, int argc,
                          const char* const* argv) {
  std::string hint;
  if (status.not_attempted && !options.failed_out.empty()) {
    if (write_error.empty())
      hint += "the lines not sent are in " + options.failed_out + "\n";
    else
      hint += "--failed-out " + options.failed_out +
              " is incomplete: nothing was written after the first write error (" + write_error +
              "); --resume finds the lines not sent\n";
  }
  hint += "to continue: " + continue_command(argc, argv) + "\n";
  if (std::uint64_t refused = stats.failed_for_good() + stats.failed_earlier();
      refused && !options.retry_failed)
    hint += "(" + std::to_string(refused) +
            " lines failed with HTTP 400/403/404: --resume does not send them again; fix or "
            "remove them, or add --retry-failed)\n";
  return hint;
}

// plan's summary on stderr: its totals and how the run ended.
std::string plan_summary_text(const plan_sink& plan, const run_status& status) {
  std::string summary = plan.totals_text();
  for (const auto& note : status.notes) summary += "note: " + note + "\n";
  if (status.not_attempted)
    summary += std::to_string(status.not_attempted) + " lines were not read (the run stopped)\n";
  if (status.signal) summary += "interrupted by signal " + std::to_string(status.signal) + "\n";
  if (status.deadline_exceeded) summary += "stopped at the --deadline\n";
  if (status.aborted) summary += "aborted: " + status.abort_reason + "\n";
  return summary;
}

// The report: the exit code, the last words (summary JSON, final metrics) and the summary
// on stderr. Returns the exit code; an output that could not be written is cli_error exit
// 4 once the rest is said (the run's own code is in the message).
int report(const apply_options& options, const apply_command_options& extra, apply_run& run,
           run_status& status, int argc, const char* const* argv) {
  bool stopped = status.aborted || status.signal || status.deadline_exceeded;
  if (run.source->lines_read() == 0 && !stopped) {
    // A stream that held nothing: nothing was sent.
    std::string why = empty_manifest(options);
    write_refusal(options, extra, run, why);
    refuse(why);
  }
  int run_code = exit_code_of(status, run.stats);
  std::string error;
  int code = write_last_words(options, run, status, run_code, error);
  std::string summary =
      options.plan ? plan_summary_text(*run.plan, status) : run.stats.summary_text(status);
  if (code != exit_ok && code != exit_usage && !options.results.empty())
    summary += continue_hint(options, run.stats, status, run.out.progress().error, argc, argv);
  run.out.append_to(output_thread::standard_error) += summary;
  run.out.close();
  if (!error.empty())
    throw cli_error(code, error + " (the run itself ended with exit code " +
                              std::to_string(run_code) + ")");
  return code;
}

// An exception once sending began (a bug, memory): the run's last words say so, exit 3
// (4 when they cannot be written).
[[noreturn]] void end_on_exception(const apply_options& options, apply_run& run,
                                   const std::exception& e) {
  run_status status;
  status.aborted = true;
  status.abort_reason =
      std::string(e.what()) +
      (options.plan ? "; the plan stopped" : "; the run stopped after sending began");
  complete_status(options, run, status);
  std::string error;
  int code = exit_aborted;
  try {
    run.out.drain(true);
    code = write_last_words(options, run, status, exit_aborted, error);
  } catch (const std::exception&) {
    code = exit_output_failed;
  }
  std::string hint = options.plan ? "" : " (--resume with --results continues it)";
  throw cli_error(code, status.abort_reason + hint + (error.empty() ? "" : "; " + error));
}

// An apply or plan run, phase by phase.
int run_phases(apply_options& options, const apply_command_options& extra,
               run_monitor::settings monitor_settings, int argc, const char* const* argv) {
  apply_run run;
  // One id per run, in every record, the summary JSON and the metrics: a monitor can tell
  // which run wrote what, and shards of one schedule apart.
  run.run_id = make_run_id();
  monitor_settings.run_id = run.run_id;
  run.monitor_settings = std::move(monitor_settings);
  if (!options.report.empty()) run.report_settings = report_settings(options, extra, run.run_id);
  try {
    check_settings(options, extra);
    guard_files(options, extra, run.monitor_settings.metrics_file, run);
    load_resume(options, run);
    run.monitor_settings.total = first_pass(options, run);
    open_sink(options, extra, run);
  } catch (const cli_error& e) {
    write_refusal(options, extra, run, e.what());
    throw;
  } catch (const std::exception& e) {
    // Another library's refusal of an input (a proxy URL, a descriptor): nothing was sent.
    write_refusal(options, extra, run, e.what());
    throw cli_error(exit_usage, e.what());
  }
  // From the first request on, no failure is exit 2: lines may have been applied.
  try {
    run_status status = send_updates(options, run);
    return report(options, extra, run, status, argc, argv);
  } catch (const cli_error&) {
    throw;
  } catch (const std::exception& e) {
    end_on_exception(options, run, e);
  }
}

} // namespace

int run_apply(apply_options options, const apply_command_options& extra,
              run_monitor::settings monitor, int argc, const char* const* argv) {
  return run_phases(options, extra, std::move(monitor), argc, argv);
}

int run_plan(apply_options options, const apply_command_options& extra,
             run_monitor::settings monitor) {
  options.plan = true;
  // Every line gets a plan: an invalid one is planned "invalid" and the rest go on.
  options.skip_invalid = true;
  return run_phases(options, extra, std::move(monitor), 0, nullptr);
}

} // namespace jobpatch::cli
