// jobpatch: bulk updates to ByteNite jobs. main() only parses the command line and maps
// failures to exit codes; each subcommand lives in its own file.

#include "cli/commands.hpp"

#include <jobpatch/version.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  using namespace jobpatch::cli;
  CLI::App app{"jobpatch: apply bulk updates to ByteNite jobs"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "print the version and the JSON kernel, then exit");

  validate_options validate;
  auto* validate_cmd = app.add_subcommand("validate", "check a manifest without sending anything");
  validate_cmd->add_option("manifest", validate.manifest, "NDJSON manifest, or - for stdin")->required();
  validate_cmd->add_option("--results", validate.results, "write one NDJSON record per invalid line");
  validate_cmd->add_option("--max-line-bytes", validate.max_line_bytes, "longest accepted line (default 1 MiB)");
  validate_cmd->add_option("--show-errors", validate.show_errors, "how many errors to print (default 20)");

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
    std::fputs(app.help().c_str(), stderr);
    return exit_usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch: %s\n", e.what());
    return exit_usage;
  }
}
