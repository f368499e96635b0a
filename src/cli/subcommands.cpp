// The command line of each subcommand: one registrar per subcommand declares its options
// (bound to a struct it keeps alive in the run it returns) and, after parsing, turns what
// was typed into the inputs of run_<command>(). main() only wires them.

#include "cli/cli_options.hpp"
#include "cli/commands.hpp"
#include "cli/ids_option.hpp"
#include "cli/shard_option.hpp"

#include <jobpatch/manifest/manifest_reader.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace jobpatch::cli {

const char* const apply_exit_codes_text =
    "Exit codes:\n"
    "  0    every line applied (or recorded ok by an earlier run)\n"
    "  1    some lines failed, were invalid, or were not sent (deadline)\n"
    "  2    usage, configuration or invalid manifest: nothing was sent\n"
    "  3    aborted: authentication, TLS, unresolvable host, every attempt failing alike\n"
    "  4    an output could not be written (during the run: sending stopped)\n"
    "  130  interrupted (SIGINT), 143 terminated (SIGTERM)\n";

namespace {

constexpr const char* plan_exit_codes_text =
    "Exit codes:\n"
    "  0    every line planned (whether it changes something or not)\n"
    "  1    some jobs were not found or could not be read, lines were invalid, or the\n"
    "       --deadline left lines unread\n"
    "  2    usage or configuration: nothing was read\n"
    "  3    aborted: authentication, TLS, unresolvable host, every attempt failing alike\n"
    "  4    --output, --summary-json or --metrics-file could not be written\n"
    "  130  interrupted (SIGINT), 143 terminated (SIGTERM)\n";
constexpr const char* bench_exit_codes_text =
    "Exit codes:\n"
    "  0    every scheduled request succeeded and every --fail-if gate passed\n"
    "  1    some requests failed or were not sent\n"
    "  2    usage, configuration, invalid manifest, --fail-if or --baseline: nothing was sent\n"
    "  3    aborted: authentication, TLS, unresolvable host, every attempt failing alike\n"
    "  4    --summary-json or --report could not be written after the run\n"
    "  5    a --fail-if gate failed (whether or not requests failed)\n"
    "  130  interrupted (SIGINT), 143 terminated (SIGTERM)\n";
constexpr const char* merge_exit_codes_text =
    "Exit codes:\n"
    "  0    merged\n"
    "  2    usage, or input that cannot be merged (a line in two shards, a line that is not a "
    "record,\n"
    "       a summary without its histogram, a shard missing or twice): nothing was written\n"
    "  4    an output could not be written\n";
constexpr const char* control_footer_text =
    "Commands (each as separate words: jobpatch control SOCKET rate 400):\n"
    "  status             the run as one JSON object: done, lines, inFlight, rate,\n"
    "                     connections, paused, ...\n"
    "  pause              start no new request (those in flight finish)\n"
    "  resume             start requests again\n"
    "  rate R             at most R requests/s (a number above 0, decimals allowed)\n"
    "  rate none          lift the rate limit\n"
    "  connections N      use N connections (1 to 1024)\n"
    "  connections auto   the run's own choice of connections\n"
    "The run's reply, one line of JSON, is printed on stdout: {\"ok\":true,...} or\n"
    "{\"ok\":false,\"error\":\"...\"}. The run logs every change on its stderr and in its\n"
    "summary.\n"
    "\n"
    "Exit codes:\n"
    "  0    the run did it (status: printed)\n"
    "  2    a bad command (nothing was sent), or the run refused it (\"ok\":false)\n"
    "  3    nothing listens on SOCKET (no such file, or no run behind it), or no reply\n"
    "       within 5 s\n";

// The manifest positional with --ids/--op/--body instead of it (validate, apply, plan, bench).
void add_manifest(CLI::App& command, std::string& manifest, ids_arguments& ids) {
  add_ids_options(command, ids,
                  command.add_option("manifest", manifest, "NDJSON manifest, or - for stdin"));
}

void add_max_line_bytes(CLI::App& command, std::size_t& max_line_bytes) {
  // CLI11 reads "-5" into a size_t as a huge number: the range refuses it.
  command.add_option("--max-line-bytes", max_line_bytes, "longest accepted line (bytes)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->default_str(std::to_string(manifest_reader::default_max_line_bytes));
}

void add_progress(CLI::App& command, std::string& progress) {
  command
      .add_option("--progress", progress,
                  "progress line on stderr: auto (when a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

// --rate of apply and plan: leaving it out is no limit, 0 is refused.
void check_rate(const CLI::App& command, double rate) {
  if (command.count("--rate") && !(rate > 0))
    refuse("--rate must be more than 0 requests/s (leave it out for no limit), got " +
           CLI::detail::to_string(rate));
}

} // namespace

subcommand add_validate(CLI::App& app) {
  struct typed {
    validate_options options;
    ids_arguments ids;
  };
  auto t = std::make_shared<typed>();
  auto* command = app.add_subcommand("validate", "check a manifest without sending anything");
  add_manifest(*command, t->options.manifest, t->ids);
  command->add_option("--results", t->options.results, "write one NDJSON record per invalid line");
  command->add_flag("--force", t->options.force, "overwrite an existing --results file");
  add_max_line_bytes(*command, t->options.max_line_bytes);
  command->add_option("--show-errors", t->options.show_errors, "how many errors to print")
      ->capture_default_str();
  return {command, [t] {
            t->options.ids = resolve_ids(t->ids, t->options.manifest);
            return run_validate(t->options);
          }};
}

namespace {

// The run's instruments, shared by apply and plan, as typed: what bounds the run
// (--shard, --deadline, --grace) and what an operator watches (--summary-json,
// --progress, --metrics-file, --metrics-interval). Converted by instruments_inputs().
struct run_instruments {
  std::string shard, progress = "auto";
  run_monitor::settings monitor;
  double metrics_interval_seconds = 15, deadline_seconds = 0, grace_seconds = 10;
};

// `verb` ("apply", "plan"): what --shard does to its shard's jobs.
void add_run_instruments(CLI::App& command, apply_options& o, run_instruments& t,
                         const std::string& verb) {
  command.add_option("--shard", t.shard,
                     "K/N: " + verb +
                         " only the jobs of shard K of N; N alone: K is "
                         "JOB_COMPLETION_INDEX+1 (Kubernetes Indexed Job)");
  command.add_option("--deadline", t.deadline_seconds, "seconds for the whole run (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command
      .add_option("--grace", t.grace_seconds,
                  "seconds in-flight work may finish after SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command.add_option("--summary-json", o.summary_json,
                     "write the summary as JSON (replaced atomically)");
  add_progress(command, t.progress);
  command.add_option("--metrics-file", t.monitor.metrics_file,
                     "Prometheus text file, replaced atomically during and after the run");
  command
      .add_option("--metrics-interval", t.metrics_interval_seconds,
                  "seconds between --metrics-file updates during the run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

// After parsing: the instruments' seconds, shard and modes into `o` and `t.monitor`.
void instruments_inputs(run_instruments& t, apply_options& o) {
  o.deadline = seconds_option(t.deadline_seconds, "--deadline");
  o.grace = seconds_option(t.grace_seconds, "--grace");
  auto selection = resolve_shard_from_environment(t.shard);
  if (!selection.note.empty()) std::fprintf(stderr, "jobpatch: %s\n", selection.note.c_str());
  o.shard_index = selection.index;
  o.shard_count = selection.count;
  t.monitor.progress = *parse_progress_mode(t.progress);
  t.monitor.metrics_interval = std::chrono::duration_cast<std::chrono::seconds>(
      seconds_option(std::max(1.0, t.metrics_interval_seconds), "--metrics-interval"));
  if (o.shard_count > 1)
    t.monitor.shard = std::to_string(o.shard_index + 1) + "/" + std::to_string(o.shard_count);
}

// apply's options as typed: the seconds and modes are converted by apply_inputs().
struct apply_typed {
  apply_options options;
  apply_command_options extra;
  connection_options connection;
  ids_arguments ids;
  run_instruments instruments;
  double fsync_ms = 100, settle_seconds = -1;
};

// How fast: --rate, --burst, --settle.
void add_apply_pacing(CLI::App& command, apply_typed& t) {
  command.add_option("--rate", t.options.rate,
                     "requests per second, retries included (leave out for no limit)");
  command.get_option("--connections")
      ->description("persistent connections: N, or auto[:MAX] (requests in flight adapt to "
                    "the server's latency between 1 and MAX, default 64)");
  command.add_option("--control", t.options.control,
                     "listen on this Unix socket (created 0600, removed at exit) for `jobpatch "
                     "control` (status, pause, resume, rate, connections)");
  command.add_option("--burst", t.options.burst, "rate limiter burst (default rate/10)")
      ->check(CLI::NonNegativeNumber);
  command
      .add_option("--settle", t.settle_seconds,
                  "seconds a job's next update waits after an unanswered attempt (default: "
                  "--timeout, at most 5)")
      ->check(CLI::NonNegativeNumber);
}

// What the run writes and how it resumes.
void add_apply_outputs(CLI::App& command, apply_typed& t) {
  apply_options& o = t.options;
  command.add_option("--results", o.results, "NDJSON record per line (locked while running)");
  command.add_flag("--force", o.force,
                   "overwrite an existing --results file (never an --undo-out file: see "
                   "--force-undo)");
  command.add_flag("--resume", o.resume,
                   "skip lines the --results file records as ok; append to it and to --undo-out");
  command.add_flag("--retry-failed", o.retry_failed,
                   "with --resume, also send lines that failed with 400/403/404 before");
  command
      .add_option("--fsync-interval", t.fsync_ms,
                  "ms between fdatasync of results (0 = only at the end)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command.add_option("--failed-out", o.failed_out,
                     "write failed and unsent lines verbatim, as a manifest");
  command.add_option("--report", o.report,
                     "write a self-contained HTML report of the run (replaced atomically, "
                     "however the run ends)");
}

// Which lines, and reading each job first.
void add_apply_selection(CLI::App& command, apply_typed& t) {
  apply_options& o = t.options;
  command.add_flag("--skip-invalid", o.skip_invalid, "record invalid lines and apply the rest");
  add_max_line_bytes(command, o.max_line_bytes);
  command.add_flag("--skip-unchanged", o.skip_unchanged,
                   "read each job first (GET); a line whose fields already hold its values "
                   "is recorded unchanged and not sent");
  command.add_option("--undo-out", o.undo_out,
                     "read each job first (GET) and write, per applied line, a manifest line "
                     "restoring the old values (file created 0600); a file that holds lines is "
                     "refused unless --resume (adds to it) or --force-undo");
  command.add_flag("--force-undo", t.extra.force_undo,
                   "start a new --undo-out file over one that holds lines: the old one is kept, "
                   "renamed FILE.1 (FILE.2, ... when taken: the highest is the latest); nothing "
                   "is ever overwritten");
}

// After parsing: the typed seconds and modes into `t.options` and the instruments'
// monitor settings.
void apply_inputs(const CLI::App& command, apply_typed& t) {
  apply_options& o = t.options;
  copy_connection_options(t.connection, o);
  check_rate(command, o.rate);
  if (t.settle_seconds >= 0) o.settle = seconds_option(t.settle_seconds, "--settle");
  o.fsync_interval = seconds_option(t.fsync_ms / 1000, "--fsync-interval");
  instruments_inputs(t.instruments, o);
}

} // namespace

subcommand add_apply(CLI::App& app, int argc, const char* const* argv) {
  auto t = std::make_shared<apply_typed>();
  auto* command = app.add_subcommand("apply", "apply a manifest's updates");
  command->footer(apply_exit_codes_text);
  add_manifest(*command, t->options.manifest, t->ids);
  add_connection_options(*command, t->connection);
  add_apply_pacing(*command, *t);
  add_apply_outputs(*command, *t);
  add_apply_selection(*command, *t);
  add_run_instruments(*command, t->options, t->instruments, "apply");
  return {command, [t, command, argc, argv] {
            t->extra.ids = resolve_ids(t->ids, t->options.manifest);
            t->extra.api_key_file = t->connection.api_key_file;
            apply_inputs(*command, *t);
            return run_apply(t->options, t->extra, std::move(t->instruments.monitor), argc, argv);
          }};
}

subcommand add_plan(CLI::App& app) {
  struct typed {
    apply_options options;
    apply_command_options extra;
    connection_options connection;
    ids_arguments ids;
    run_instruments instruments;
  };
  auto t = std::make_shared<typed>();
  auto* command = app.add_subcommand(
      "plan", "read each line's job (GET) and show what the line would change, field by field; "
              "writes nothing to any job");
  command->footer(plan_exit_codes_text);
  add_manifest(*command, t->options.manifest, t->ids);
  add_connection_options(*command, t->connection);
  command->add_option("--rate", t->options.rate,
                      "reads per second, retries included (leave out for no limit)");
  command->add_option("--burst", t->options.burst, "rate limiter burst (default rate/10)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--output", t->extra.plan_output,
                      "write the plan as NDJSON, one record per line (- for stdout: the text "
                      "plan is then left out)");
  add_max_line_bytes(*command, t->options.max_line_bytes);
  add_run_instruments(*command, t->options, t->instruments, "plan");
  return {command, [t, command] {
            t->extra.ids = resolve_ids(t->ids, t->options.manifest);
            t->extra.api_key_file = t->connection.api_key_file;
            copy_connection_options(t->connection, t->options);
            check_rate(*command, t->options.rate);
            instruments_inputs(t->instruments, t->options);
            return run_plan(t->options, t->extra, std::move(t->instruments.monitor));
          }};
}

namespace {

// bench's options as typed: the rate, duration, gates and mode are converted by
// bench_inputs().
struct bench_typed {
  bench_options options;
  bench_command_options extra;
  connection_options connection;
  ids_arguments ids;
  std::string rate, progress = "auto";
  double duration = 0;
  std::vector<std::string> fail_if;
};

// After parsing: --fail-if, --progress, --rate and --duration into `t.options` and `t.extra`.
void bench_inputs(bench_typed& t) {
  try {
    for (const auto& expression : t.fail_if) t.extra.gates.push_back(parse_bench_gate(expression));
    t.options.rate = parse_rate_spec(t.rate);
  } catch (const std::invalid_argument& e) {
    refuse(e.what());
  }
  t.extra.progress = *parse_progress_mode(t.progress);
  copy_connection_options(t.connection, t.options);
  t.options.duration = seconds_option(t.duration, "--duration");
}

} // namespace

subcommand add_bench(CLI::App& app) {
  auto t = std::make_shared<bench_typed>();
  auto* command = app.add_subcommand(
      "bench", "open-loop benchmark: send the manifest's updates in a cycle at a fixed rate "
               "(no order per job), latency measured from each request's intended send time");
  command->footer(bench_exit_codes_text);
  add_manifest(*command, t->options.manifest, t->ids);
  command
      ->add_option("--rate", t->rate,
                   "requests per second: R, or A:B for a linear ramp from A to B")
      ->required();
  command->add_option("--duration", t->duration, "seconds of load")
      ->required()
      ->check(CLI::PositiveNumber);
  add_connection_options(*command, t->connection);
  command->add_option("--report", t->options.report,
                      "write a self-contained HTML report (replaced atomically)");
  command->add_option("--summary-json", t->options.summary_json,
                      "write the summary as JSON (replaced atomically)");
  command
      ->add_option(
          "--fail-if", t->fail_if,
          "exit 5 unless the run meets EXPR (repeatable): [OP:]METRIC CMP VALUE, e.g. p99<250ms, "
          "p99.9<=1s, errors<0.1%, rate>=0.95, jobname:p99<200ms; METRIC p50 p90 p99 p99.9 p99.99 "
          "max mean (from intended send time) errors rate")
      ->allow_extra_args(false);
  command->add_option("--baseline", t->extra.baseline,
                      "an earlier run's --summary-json: show this run beside it (text and "
                      "report)");
  add_progress(*command, t->progress);
  command->add_option("--max-lines", t->options.max_lines, "manifest lines held and cycled through")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  add_max_line_bytes(*command, t->options.max_line_bytes);
  return {command, [t] {
            t->extra.ids = resolve_ids(t->ids, t->options.manifest);
            bench_inputs(*t);
            return run_bench_command(t->options, t->extra, t->connection.api_key_file);
          }};
}

subcommand add_merge(CLI::App& app) {
  auto options = std::make_shared<merge_options>();
  auto* command = app.add_subcommand(
      "merge", "combine the results and summaries of a sharded run's shards (apply --shard K/N): "
               "each line's last record, in line order; one summary with exact counts and "
               "percentiles");
  command->footer(merge_exit_codes_text);
  command->add_option("results", options->inputs, "the shards' results files (apply --results)");
  command->add_option(
      "--results", options->results,
      "write the merged results here, replaced atomically (default: standard output)");
  command
      ->add_option("--summaries", options->summaries,
                   "the shards' summary JSONs (apply --summary-json), one per shard")
      ->expected(1, -1);
  command->add_option("--summary-json", options->summary_json,
                      "write the merged summary here (replaced atomically)");
  command->add_flag("--force", options->force, "overwrite outputs that already hold data");
  return {command, [options] { return run_merge(*options); }};
}

subcommand add_control(CLI::App& app) {
  auto options = std::make_shared<control_options>();
  auto* command = app.add_subcommand(
      "control", "send one command to a running apply --control SOCKET: status, pause, resume, "
                 "rate R, connections N");
  command->footer(control_footer_text);
  command->add_option("socket", options->socket, "the run's --control socket")->required();
  // Taken as they are ("rate -5" too) and judged by the parser of control commands.
  command->add_option("command", options->words, "the command's words: status, rate 400, ...");
  return {command, [options] { return run_control(*options); }};
}

} // namespace jobpatch::cli
