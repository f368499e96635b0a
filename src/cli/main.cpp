// jobpatch: bulk updates to ByteNite jobs. main() only parses the command line and maps
// failures to exit codes; each subcommand lives in its own file.

#include "cli/cli_options.hpp"
#include "cli/commands.hpp"
#include "cli/ids_option.hpp"
#include "cli/output_guard.hpp"
#include "cli/shard_option.hpp"
#include "net/tls_memory.hpp"

#include <jobpatch/manifest/manifest_reader.hpp>
#include <jobpatch/version.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

namespace {
constexpr const char* exit_codes_text =
    "Exit codes:\n"
    "  0    every line applied (or recorded ok by an earlier run)\n"
    "  1    some lines failed, were invalid, or were not sent (deadline)\n"
    "  2    usage, configuration or invalid manifest: nothing was sent\n"
    "  3    aborted: authentication, TLS, unresolvable host, every attempt failing alike\n"
    "  4    an output could not be written during the run: sending stopped\n"
    "  130  interrupted (SIGINT), 143 terminated (SIGTERM)\n";
constexpr const char* plan_exit_codes_text =
    "Exit codes:\n"
    "  0    every line planned (whether it changes something or not)\n"
    "  1    some jobs were not found or could not be read, or lines were invalid\n"
    "  2    usage or configuration: nothing was read\n"
    "  3    aborted: authentication, TLS, unresolvable host, every attempt failing alike\n"
    "  4    the --output file could not be written\n"
    "  130  interrupted (SIGINT), 143 terminated (SIGTERM)\n";
constexpr const char* bench_exit_codes_text =
    "Exit codes:\n"
    "  0    every scheduled request succeeded and every --fail-if gate passed\n"
    "  1    some requests failed or were not sent\n"
    "  2    usage, configuration, invalid manifest, --fail-if or --baseline: nothing was sent\n"
    "  3    aborted: authentication, TLS, unresolvable host, every attempt failing alike\n"
    "  5    a --fail-if gate failed (whether or not requests failed)\n"
    "  130  interrupted (SIGINT), 143 terminated (SIGTERM)\n";
} // namespace

int main(int argc, char** argv) {
  // First of all, before OpenSSL allocates anything: its per-request blocks then come from
  // a per-thread cache instead of the heap. When that is refused, the default allocator
  // serves just as correctly.
  (void)jobpatch::net::install_tls_memory();
  // A closed stderr or stdout (`jobpatch apply ... 2>&1 | head -1`) must not kill the run:
  // writes to it then fail with EPIPE and are dropped, and the run's files and exit code
  // stay what they would have been.
  std::signal(SIGPIPE, SIG_IGN);
  using namespace jobpatch::cli;
  using jobpatch::apply_options;
  using jobpatch::bench_options;
  // Sockets are file descriptors: a soft limit of 1024 would cap --connections for no
  // reason when the hard limit allows more.
  raise_descriptor_limit();
  CLI::App app{"jobpatch: apply bulk updates to ByteNite jobs", "jobpatch"};
  app.require_subcommand(0, 1);
  app.footer(exit_codes_text);
  bool show_version = false;
  app.add_flag("--version", show_version, "print the version and the JSON kernel, then exit");

  validate_options validate;
  auto* validate_cmd = app.add_subcommand("validate", "check a manifest without sending anything");
  ids_arguments validate_ids;
  add_ids_options(
      *validate_cmd, validate_ids,
      validate_cmd->add_option("manifest", validate.manifest, "NDJSON manifest, or - for stdin"));
  validate_cmd->add_option("--results", validate.results,
                           "write one NDJSON record per invalid line");
  validate_cmd->add_flag("--force", validate.force, "overwrite an existing --results file");
  validate_cmd
      ->add_option("--max-line-bytes", validate.max_line_bytes, "longest accepted line (bytes)")
      ->default_str(std::to_string(jobpatch::manifest_reader::default_max_line_bytes));
  validate_cmd->add_option("--show-errors", validate.show_errors, "how many errors to print")
      ->capture_default_str();

  apply_options apply;
  connection_options apply_connection;
  std::string shard, progress = "auto";
  run_monitor::settings monitor;
  double metrics_interval_seconds = 15;
  double deadline_seconds = 0, grace_seconds = 10, fsync_ms = 100, settle_seconds = -1;
  auto* apply_cmd = app.add_subcommand("apply", "apply a manifest's updates");
  apply_cmd->footer(exit_codes_text);
  ids_arguments apply_ids;
  add_ids_options(
      *apply_cmd, apply_ids,
      apply_cmd->add_option("manifest", apply.manifest, "NDJSON manifest, or - for stdin"));
  add_connection_options(*apply_cmd, apply_connection);
  apply_cmd->add_option("--rate", apply.rate,
                        "requests per second, retries included (leave out for no limit)");
  apply_cmd->add_option("--burst", apply.burst, "rate limiter burst (default rate/10)")
      ->check(CLI::NonNegativeNumber);
  apply_cmd
      ->add_option("--settle", settle_seconds,
                   "seconds a job's next update waits after an unanswered attempt (default: "
                   "--timeout, at most 5)")
      ->check(CLI::NonNegativeNumber);
  apply_cmd->add_option("--deadline", deadline_seconds, "seconds for the whole run (0 = none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  apply_cmd
      ->add_option("--grace", grace_seconds,
                   "seconds in-flight work may finish after SIGINT/SIGTERM")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  apply_cmd->add_option("--results", apply.results,
                        "NDJSON record per line (locked while running)");
  apply_cmd->add_flag("--force", apply.force, "overwrite an existing results file");
  apply_cmd->add_flag("--resume", apply.resume,
                      "skip lines the --results file records as ok; append");
  apply_cmd->add_flag("--retry-failed", apply.retry_failed,
                      "with --resume, also send lines that failed with 400/403/404 before");
  apply_cmd->add_option("--fsync-interval", fsync_ms, "ms between fdatasync of results (0 = never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  apply_cmd->add_option("--failed-out", apply.failed_out,
                        "write failed and unsent lines verbatim, as a manifest");
  apply_cmd->add_option("--summary-json", apply.summary_json, "write the summary as JSON");
  apply_cmd
      ->add_option("--progress", progress,
                   "progress line on stderr: auto (when a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  apply_cmd->add_option("--metrics-file", monitor.metrics_file,
                        "Prometheus text file, replaced atomically during and after the run");
  apply_cmd
      ->add_option("--metrics-interval", metrics_interval_seconds,
                   "seconds between --metrics-file updates during the run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  apply_cmd->add_flag("--skip-invalid", apply.skip_invalid,
                      "record invalid lines and apply the rest");
  apply_cmd->add_option("--shard", shard,
                        "K/N: apply only the jobs of shard K of N; N alone: K is "
                        "JOB_COMPLETION_INDEX+1 (Kubernetes Indexed Job)");
  apply_cmd->add_option("--max-line-bytes", apply.max_line_bytes, "longest accepted line (bytes)")
      ->default_str(std::to_string(jobpatch::manifest_reader::default_max_line_bytes));
  apply_cmd->add_flag("--skip-unchanged", apply.skip_unchanged,
                      "read each job first (GET); a line whose fields already hold its values "
                      "is recorded unchanged and not sent");
  apply_cmd->add_option("--undo-out", apply.undo_out,
                        "read each job first (GET) and write, per applied line, a manifest line "
                        "restoring the old values (file created 0600)");

  apply_options plan;
  connection_options plan_connection;
  std::string plan_output;
  auto* plan_cmd = app.add_subcommand(
      "plan", "read each line's job (GET) and show what the line would change, field by field; "
              "writes nothing to any job");
  plan_cmd->footer(plan_exit_codes_text);
  ids_arguments plan_ids;
  add_ids_options(
      *plan_cmd, plan_ids,
      plan_cmd->add_option("manifest", plan.manifest, "NDJSON manifest, or - for stdin"));
  add_connection_options(*plan_cmd, plan_connection);
  plan_cmd->add_option("--rate", plan.rate,
                       "reads per second, retries included (leave out for "
                       "no limit)");
  plan_cmd->add_option("--burst", plan.burst, "rate limiter burst (default rate/10)")
      ->check(CLI::NonNegativeNumber);
  plan_cmd->add_option("--output", plan_output,
                       "write the plan as NDJSON, one record per line (- for stdout: the text "
                       "plan is then left out)");
  plan_cmd->add_option("--max-line-bytes", plan.max_line_bytes, "longest accepted line (bytes)")
      ->default_str(std::to_string(jobpatch::manifest_reader::default_max_line_bytes));

  bench_options bench;
  connection_options bench_connection;
  std::string bench_rate;
  double bench_duration = 0;
  auto* bench_cmd = app.add_subcommand(
      "bench", "open-loop benchmark: send the manifest's updates in a cycle at a fixed rate "
               "(no order per job), latency measured from each request's intended send time");
  bench_cmd->footer(bench_exit_codes_text);
  ids_arguments bench_ids;
  add_ids_options(
      *bench_cmd, bench_ids,
      bench_cmd->add_option("manifest", bench.manifest, "NDJSON manifest, or - for stdin"));
  bench_cmd
      ->add_option("--rate", bench_rate,
                   "requests per second: R, or A:B for a linear ramp from A to B")
      ->required();
  bench_cmd->add_option("--duration", bench_duration, "seconds of load")
      ->required()
      ->check(CLI::PositiveNumber);
  add_connection_options(*bench_cmd, bench_connection);
  bench_cmd->add_option("--report", bench.report, "write a self-contained HTML report");
  bench_cmd->add_option("--summary-json", bench.summary_json, "write the summary as JSON");
  std::vector<std::string> fail_if;
  bench_cmd
      ->add_option(
          "--fail-if", fail_if,
          "exit 5 unless the run meets EXPR (repeatable): [OP:]METRIC CMP VALUE, e.g. p99<250ms, "
          "p99.9<=1s, errors<0.1%, rate>=0.95, jobname:p99<200ms; METRIC p50 p90 p99 p99.9 p99.99 "
          "max mean (from intended send time) errors rate")
      ->allow_extra_args(false);
  bench_command_options bench_extra;
  bench_cmd->add_option("--baseline", bench_extra.baseline,
                        "an earlier run's --summary-json: show this run beside it (text and "
                        "report)");
  std::string bench_progress = "auto";
  bench_cmd
      ->add_option("--progress", bench_progress,
                   "progress line on stderr: auto (when a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  bench_cmd->add_option("--max-lines", bench.max_lines, "manifest lines held and cycled through")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  bench_cmd->add_option("--max-line-bytes", bench.max_line_bytes, "longest accepted line (bytes)")
      ->default_str(std::to_string(jobpatch::manifest_reader::default_max_line_bytes));

  merge_options merge;
  auto* merge_cmd = app.add_subcommand(
      "merge", "combine the results and summaries of a sharded run's shards (apply --shard K/N): "
               "each line's last record, in line order; one summary with exact counts and "
               "percentiles");
  merge_cmd->footer("Exit codes:\n"
                    "  0    merged\n"
                    "  2    usage, or input that cannot be merged (a line in two shards, a line "
                    "that is not a record,\n"
                    "       a summary without its histogram, a shard missing or twice): nothing "
                    "was written\n"
                    "  4    an output could not be written\n");
  merge_cmd->add_option("results", merge.inputs, "the shards' results files (apply --results)");
  merge_cmd->add_option("--results", merge.results,
                        "write the merged results here (default: standard output)");
  merge_cmd
      ->add_option("--summaries", merge.summaries,
                   "the shards' summary JSONs (apply --summary-json), one per shard")
      ->expected(1, -1);
  merge_cmd->add_option("--summary-json", merge.summary_json, "write the merged summary here");
  merge_cmd->add_flag("--force", merge.force, "overwrite outputs that already hold data");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string hint = parse_error_hint(app, argc, argv);
    std::fprintf(stderr, "jobpatch: %s\nRun jobpatch --help for more information.\n",
                 hint.empty() ? e.what() : hint.c_str());
    return exit_usage;
  }

  try {
    if (show_version) {
      std::printf("%s\n", jobpatch::version_text().c_str());
      return exit_ok;
    }
    if (validate_cmd->parsed()) {
      validate.ids = resolve_ids(validate_ids, validate.manifest);
      return run_validate(validate);
    }
    if (apply_cmd->parsed()) {
      auto ids = resolve_ids(apply_ids, apply.manifest);
      copy_connection_options(apply_connection, apply);
      if (apply_cmd->count("--rate") && !(apply.rate > 0))
        throw std::invalid_argument("--rate must be more than 0 requests/s (leave it out for "
                                    "no limit), got " +
                                    CLI::detail::to_string(apply.rate));
      apply.deadline = seconds_option(deadline_seconds, "--deadline");
      apply.grace = seconds_option(grace_seconds, "--grace");
      if (settle_seconds >= 0) apply.settle = seconds_option(settle_seconds, "--settle");
      apply.fsync_interval = seconds_option(fsync_ms / 1000, "--fsync-interval");
      auto selection = resolve_shard_from_environment(shard);
      if (!selection.note.empty()) std::fprintf(stderr, "jobpatch: %s\n", selection.note.c_str());
      if (!selection.error.empty()) {
        std::fprintf(stderr, "jobpatch: %s\n", selection.error.c_str());
        return exit_usage;
      }
      apply.shard_index = selection.index;
      apply.shard_count = selection.count;
      monitor.progress = *parse_progress_mode(progress);
      monitor.metrics_interval = std::chrono::duration_cast<std::chrono::seconds>(
          seconds_option(std::max(1.0, metrics_interval_seconds), "--metrics-interval"));
      if (apply.shard_count > 1)
        monitor.shard =
            std::to_string(apply.shard_index + 1) + "/" + std::to_string(apply.shard_count);
      return run_apply(apply, ids, apply_connection.api_key_file, std::move(monitor), argc, argv);
    }
    if (plan_cmd->parsed()) {
      auto ids = resolve_ids(plan_ids, plan.manifest);
      copy_connection_options(plan_connection, plan);
      if (plan_cmd->count("--rate") && !(plan.rate > 0))
        throw std::invalid_argument("--rate must be more than 0 requests/s (leave it out for "
                                    "no limit), got " +
                                    CLI::detail::to_string(plan.rate));
      return run_plan(plan, ids, plan_connection.api_key_file, plan_output);
    }
    if (bench_cmd->parsed()) {
      bench_extra.ids = resolve_ids(bench_ids, bench.manifest);
      for (const auto& expression : fail_if)
        bench_extra.gates.push_back(jobpatch::parse_bench_gate(expression));
      bench_extra.progress = *parse_progress_mode(bench_progress);
      copy_connection_options(bench_connection, bench);
      bench.rate = jobpatch::parse_rate_spec(bench_rate);
      bench.duration = seconds_option(bench_duration, "--duration");
      return run_bench_command(bench, bench_extra, bench_connection.api_key_file);
    }
    if (merge_cmd->parsed()) return run_merge(merge);
    std::fputs(app.help().c_str(), stderr);
    return exit_usage;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "jobpatch: %s\n", e.what());
    return exit_usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch: %s\n", e.what());
    return exit_usage;
  }
}
