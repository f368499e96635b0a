#pragma once
// The subcommands of the jobpatch CLI. Each has a registrar, add_<command>(), that
// declares its options on the app (subcommands.cpp) and a run_<command>() that takes
// them as a plain struct. A run returns the exit code of a run that went its course;
// every refusal and failure is a cli_error (cli_error.hpp), caught once, in main().

#include "cli/cli_error.hpp"
#include "cli/run_monitor.hpp"

#include "net/apply_options.hpp"
#include "net/bench_options.hpp"
#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/manifest/manifest_reader.hpp>
#include <jobpatch/report/bench_gates.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace jobpatch::cli {

// A subcommand its registrar declared on the app: after parsing, when app->parsed(),
// run() does it and returns the exit code (or throws cli_error).
struct subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// The registrars, one per subcommand. `argv` (apply) is the command line as typed.
subcommand add_validate(CLI::App& app);
subcommand add_apply(CLI::App& app, int argc, const char* const* argv);
subcommand add_plan(CLI::App& app);
subcommand add_bench(CLI::App& app);
subcommand add_merge(CLI::App& app);
subcommand add_control(CLI::App& app);

// The exit codes as `jobpatch --help` and `jobpatch apply --help` list them.
extern const char* const apply_exit_codes_text;

struct validate_options {
  std::string manifest;            // path or "-"
  std::string results;             // NDJSON records of invalid lines; empty = none
  std::size_t max_line_bytes = 0;  // 0 = default
  std::size_t show_errors = 20;    // how many errors to print on stderr
  bool force = false;              // overwrite a non-empty --results file
  std::optional<ids_template> ids; // --ids: `manifest` is a list of job ids
};

int run_validate(const validate_options& options);

// Prints the first `shown` invalid lines of a manifest on stderr and counts them all; none
// after a line that says the input is not NDJSON at all (invalid_line::not_ndjson).
class invalid_line_printer {
public:
  explicit invalid_line_printer(std::uint64_t shown = 20) : shown_(shown) {}
  void add(const invalid_line& bad);
  // "... and N more invalid lines" when some were not shown.
  void print_rest() const;
  std::uint64_t count() const noexcept { return count_; }

private:
  std::uint64_t shown_, count_ = 0;
};

// What apply and plan take beyond the engine's apply_options: choices of the command line
// alone.
struct apply_command_options {
  std::optional<ids_template> ids; // --ids: options.manifest is a list of job ids
  std::string api_key_file;        // --api-key-file; empty = BYTENITE_API_KEY
  // --force-undo: a non-empty --undo-out file is kept as FILE.N (the first N free) and a
  // new one started; without it such a file is refused unless --resume (never --force).
  bool force_undo = false;
  // plan --output: the NDJSON plan ("-": standard output, and the text plan left out);
  // empty = none.
  std::string plan_output;
};

// `options.api_key` is filled here, from `extra.api_key_file` or BYTENITE_API_KEY.
// `monitor` sets up progress and metrics; its total is filled here when the manifest is
// counted. `argv` is the command line as typed, from which the command that continues an
// unfinished run is derived.
int run_apply(apply_options options, const apply_command_options& extra,
              run_monitor::settings monitor, int argc, const char* const* argv);

// `jobpatch plan`: reads every line's job and prints what the line would change, writing
// nothing to any job. `options.plan` is set here; `extra.plan_output` (--output) receives
// the NDJSON plan. Keys, connection, the manifest (or --ids), --shard, --deadline, the
// summary JSON, progress and metrics as run_apply's, through the same exit path.
int run_plan(apply_options options, const apply_command_options& extra,
             run_monitor::settings monitor);

// What bench takes beyond the engine's bench_options.
struct bench_command_options {
  std::optional<ids_template> ids; // --ids, as run_apply's
  std::vector<bench_gate> gates;   // --fail-if, parsed
  std::string baseline;            // --baseline OLD.json; empty = none
  progress_mode progress = progress_mode::automatic;
};

// `jobpatch bench`; `options.api_key` is filled here like run_apply's.
int run_bench_command(bench_options options, const bench_command_options& extra,
                      const std::string& api_key_file);

// `jobpatch merge`: shards' results and summaries into one of each.
struct merge_options {
  std::vector<std::string> inputs;    // the shards' results files
  std::string results;                // merged results; empty = standard output
  std::vector<std::string> summaries; // the shards' --summary-json files
  std::string summary_json;           // merged summary
  bool force = false;                 // overwrite outputs that hold data
};

// Exit 0 merged; cli_error 2 unusable input (nothing written), 4 an output could not be
// written.
int run_merge(const merge_options& options);

// `jobpatch control SOCKET COMMAND...`: one live-control command to a running
// `apply --control SOCKET` (control_client.cpp).
struct control_options {
  std::string socket;             // the socket path
  std::vector<std::string> words; // the command's words: "rate", "400"
};

// Prints the run's reply line on stdout. Exit 0 when it says "ok":true; cli_error 2 a bad
// command (nothing sent) or the run's "ok":false, 3 nothing listens or no reply within 5 s.
int run_control(const control_options& options);

// Reads the API key from `key_file` (warning when others may read it) or, when empty,
// from BYTENITE_API_KEY; trailing whitespace dropped. Empty when neither holds one.
// Refuses (cli_error, exit 2) a file that cannot be read.
std::string load_api_key(const std::string& key_file);
// load_api_key into `api_key`; refuses (cli_error, exit 2) when there is none. Warns
// loudly when `insecure` (--insecure) turns certificate checks off.
void load_credentials(std::string& api_key, const std::string& key_file, bool insecure);
// A loud warning when `base_url` is plain http:// to a host other than this machine: the
// key would cross the network in clear text.
void warn_if_key_in_clear(const std::string& base_url);

} // namespace jobpatch::cli
