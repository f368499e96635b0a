// jobpatch: bulk updates to ByteNite jobs. main() only parses the command line and maps
// failures to exit codes; each subcommand lives in its own file.

#include "cli/commands.hpp"
#include "cli/shard_option.hpp"

#include <jobpatch/version.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

int main(int argc, char** argv) {
  using namespace jobpatch::cli;
  using jobpatch::apply_options;
  using jobpatch::bench_options;
  CLI::App app{"jobpatch: apply bulk updates to ByteNite jobs"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "print the version and the JSON kernel, then exit");

  validate_options validate;
  auto* validate_cmd = app.add_subcommand("validate", "check a manifest without sending anything");
  validate_cmd->add_option("manifest", validate.manifest, "NDJSON manifest, or - for stdin")
      ->required();
  validate_cmd->add_option("--results", validate.results,
                           "write one NDJSON record per invalid line");
  validate_cmd->add_option("--max-line-bytes", validate.max_line_bytes,
                           "longest accepted line (default 1 MiB)");
  validate_cmd->add_option("--show-errors", validate.show_errors,
                           "how many errors to print (default 20)");

  apply_options apply;
  std::string api_key_file, shard, progress = "auto";
  run_monitor::settings monitor;
  double metrics_interval_seconds = 15;
  double timeout_seconds = 30, deadline_seconds = 0, grace_seconds = 10, fsync_ms = 100,
         settle_seconds = -1;
  auto* apply_cmd = app.add_subcommand("apply", "apply a manifest's updates");
  apply_cmd->add_option("manifest", apply.manifest, "NDJSON manifest, or - for stdin")->required();
  apply_cmd->add_option("--base-url", apply.base_url,
                        "API base URL (default https://api.bytenite.com)");
  apply_cmd->add_option("--api-key-file", api_key_file,
                        "file holding the API key (else BYTENITE_API_KEY)");
  apply_cmd->add_option("--cacert", apply.ca_file, "extra trusted CA certificates (PEM)");
  apply_cmd->add_flag("--insecure", apply.insecure, "do not verify TLS certificates (tests only)");
  apply_cmd->add_option("--connections", apply.connections, "persistent connections (default 16)")
      ->check(CLI::Range(1, 4096));
  apply_cmd
      ->add_option("--rate", apply.rate,
                   "requests per second, retries included (default unlimited)")
      ->check(CLI::NonNegativeNumber);
  apply_cmd->add_option("--burst", apply.burst, "rate limiter burst (default rate/10)")
      ->check(CLI::NonNegativeNumber);
  apply_cmd->add_option("--max-attempts", apply.max_attempts, "attempts per line (default 5)")
      ->check(CLI::Range(1, 100));
  apply_cmd->add_option("--timeout", timeout_seconds, "seconds per attempt (default 30)")
      ->check(CLI::PositiveNumber);
  apply_cmd
      ->add_option("--settle", settle_seconds,
                   "seconds a job's next update waits after an unanswered attempt (default: "
                   "--timeout, at most 5)")
      ->check(CLI::NonNegativeNumber);
  apply_cmd->add_option("--deadline", deadline_seconds, "seconds for the whole run (default none)")
      ->check(CLI::NonNegativeNumber);
  apply_cmd
      ->add_option("--grace", grace_seconds,
                   "seconds in-flight work may finish after SIGINT/SIGTERM (default 10)")
      ->check(CLI::NonNegativeNumber);
  apply_cmd->add_option("--results", apply.results, "NDJSON record per line");
  apply_cmd->add_flag("--force", apply.force, "overwrite an existing results file");
  apply_cmd->add_flag("--resume", apply.resume,
                      "skip lines the --results file records as ok; append");
  apply_cmd
      ->add_option("--fsync-interval", fsync_ms,
                   "ms between fdatasync of results (default 100; 0 = never)")
      ->check(CLI::NonNegativeNumber);
  apply_cmd->add_option("--failed-out", apply.failed_out,
                        "write failed lines verbatim, as a manifest");
  apply_cmd->add_option("--summary-json", apply.summary_json, "write the summary as JSON");
  apply_cmd
      ->add_option("--progress", progress,
                   "progress line on stderr: auto (when a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  apply_cmd->add_option("--metrics-file", monitor.metrics_file,
                        "Prometheus text file, replaced atomically during and after the run");
  apply_cmd
      ->add_option("--metrics-interval", metrics_interval_seconds,
                   "seconds between --metrics-file updates during the run (default 15)")
      ->check(CLI::PositiveNumber);
  apply_cmd->add_flag("--skip-invalid", apply.skip_invalid,
                      "record invalid lines and apply the rest");
  apply_cmd->add_option("--shard", shard,
                        "K/N: apply only the jobs of shard K of N; N alone: K is "
                        "JOB_COMPLETION_INDEX+1 (Kubernetes Indexed Job)");
  apply_cmd->add_option("--max-line-bytes", apply.max_line_bytes,
                        "longest accepted line (default 1 MiB)");

  bench_options bench;
  std::string bench_key_file, bench_rate;
  double bench_duration = 0, bench_timeout = 30;
  auto* bench_cmd = app.add_subcommand(
      "bench", "open-loop benchmark: send the manifest's updates in a cycle at a fixed rate "
               "(no order per job), latency measured from each request's intended send time");
  bench_cmd->add_option("manifest", bench.manifest, "NDJSON manifest, or - for stdin")->required();
  bench_cmd
      ->add_option("--rate", bench_rate,
                   "requests per second: R, or A:B for a linear ramp from A to B")
      ->required();
  bench_cmd->add_option("--duration", bench_duration, "seconds of load")
      ->required()
      ->check(CLI::PositiveNumber);
  bench_cmd->add_option("--connections", bench.connections, "persistent connections (default 16)")
      ->check(CLI::Range(1, 4096));
  bench_cmd->add_option("--base-url", bench.base_url,
                        "API base URL (default https://api.bytenite.com)");
  bench_cmd->add_option("--api-key-file", bench_key_file,
                        "file holding the API key (else BYTENITE_API_KEY)");
  bench_cmd->add_option("--cacert", bench.ca_file, "extra trusted CA certificates (PEM)");
  bench_cmd->add_flag("--insecure", bench.insecure, "do not verify TLS certificates (tests only)");
  bench_cmd->add_option("--timeout", bench_timeout, "seconds per attempt (default 30)")
      ->check(CLI::PositiveNumber);
  bench_cmd->add_option("--max-attempts", bench.max_attempts, "attempts per request (default 5)")
      ->check(CLI::Range(1, 100));
  bench_cmd->add_option("--report", bench.report, "write a self-contained HTML report");
  bench_cmd->add_option("--summary-json", bench.summary_json, "write the summary as JSON");
  bench_cmd
      ->add_option("--max-lines", bench.max_lines,
                   "manifest lines held and cycled through (default 100000)")
      ->check(CLI::Range(1, 10'000'000));
  bench_cmd->add_option("--max-line-bytes", bench.max_line_bytes,
                        "longest accepted line (default 1 MiB)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;
  }

  try {
    if (show_version) {
      std::printf("%s\n", jobpatch::version_text().c_str());
      return exit_ok;
    }
    if (validate_cmd->parsed()) return run_validate(validate);
    if (apply_cmd->parsed()) {
      using std::chrono::milliseconds;
      apply.attempt_timeout = milliseconds(static_cast<long long>(timeout_seconds * 1000));
      apply.deadline = milliseconds(static_cast<long long>(deadline_seconds * 1000));
      apply.grace = milliseconds(static_cast<long long>(grace_seconds * 1000));
      if (settle_seconds >= 0)
        apply.settle = milliseconds(static_cast<long long>(settle_seconds * 1000));
      apply.fsync_interval = milliseconds(static_cast<long long>(fsync_ms));
      auto selection = resolve_shard_from_environment(shard);
      if (!selection.note.empty()) std::fprintf(stderr, "jobpatch: %s\n", selection.note.c_str());
      if (!selection.error.empty()) {
        std::fprintf(stderr, "jobpatch: %s\n", selection.error.c_str());
        return exit_usage;
      }
      apply.shard_index = selection.index;
      apply.shard_count = selection.count;
      monitor.progress = *parse_progress_mode(progress);
      monitor.metrics_interval = std::chrono::seconds(
          std::max<long long>(1, static_cast<long long>(metrics_interval_seconds)));
      return run_apply(apply, api_key_file, std::move(monitor));
    }
    if (bench_cmd->parsed()) {
      try {
        bench.rate = jobpatch::parse_rate_spec(bench_rate);
      } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "jobpatch: --rate: %s\n", e.what());
        return exit_usage;
      }
      bench.duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(bench_duration));
      bench.attempt_timeout =
          std::chrono::milliseconds(static_cast<long long>(bench_timeout * 1000));
      return run_bench(bench, bench_key_file);
    }
    std::fputs(app.help().c_str(), stderr);
    return exit_usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch: %s\n", e.what());
    return exit_usage;
  }
}
