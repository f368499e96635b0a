// jobpatch: bulk updates to ByteNite jobs. main() only wires the subcommands' registrars
// (subcommands.cpp), parses the command line, and turns a cli_error into its exit code;
// each subcommand runs in its own file.

#include "cli/cli_options.hpp"
#include "cli/commands.hpp"
#include "cli/output_guard.hpp"
#include "net/io_backend.hpp"
#include "net/tls_memory.hpp"

#include <jobpatch/version.hpp>

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  // Before anything else: an io_uring build on a kernel that refuses io_uring becomes
  // jobpatch-epoll here (io_backend.hpp).
  try {
    jobpatch::net::run_on_a_backend_the_kernel_allows(argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jobpatch: %s\n", e.what());
    return jobpatch::cli::exit_usage;
  }
  // Next, before OpenSSL allocates anything: its per-request blocks then come from
  // a per-thread cache instead of the heap. When that is refused, the default allocator
  // serves just as correctly.
  (void)jobpatch::net::install_tls_memory();
  // A closed stderr or stdout (`jobpatch apply ... 2>&1 | head -1`) must not kill the run:
  // writes to it then fail with EPIPE and are dropped, and the run's files and exit code
  // stay what they would have been.
  std::signal(SIGPIPE, SIG_IGN);
  using namespace jobpatch::cli;
  // Sockets are file descriptors: a soft limit of 1024 would cap --connections for no
  // reason when the hard limit allows more.
  raise_descriptor_limit();
  CLI::App app{"jobpatch: apply bulk updates to ByteNite jobs", "jobpatch"};
  app.require_subcommand(0, 1);
  app.footer(apply_exit_codes_text);
  bool show_version = false;
  app.add_flag("--version", show_version, "print the version and the JSON kernel, then exit");
  const subcommand commands[] = {add_validate(app), add_apply(app, argc, argv),
                                 add_plan(app),     add_bench(app),
                                 add_merge(app),    add_control(app)};

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
      std::printf("%s\nI/O: %s\n", jobpatch::version_text().c_str(),
                  jobpatch::net::io_backend_text().c_str());
      return exit_ok;
    }
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
    std::fputs(app.help().c_str(), stderr);
    return exit_usage;
  } catch (const cli_error& e) {
    if (*e.what()) std::fprintf(stderr, "jobpatch: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    // Another library's refusal of an input (a manifest that cannot be opened, a proxy
    // URL) while a command prepares: nothing was sent yet. From its first request on, a
    // command turns every failure into a cli_error with its own code (3 or 4, never 2).
    std::fprintf(stderr, "jobpatch: %s\n", e.what());
    return exit_usage;
  }
}
