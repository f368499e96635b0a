#pragma once
// The one way a step of the jobpatch CLI says no: `throw cli_error(code, message)`. main()
// catches it once, prints "jobpatch: MESSAGE" and exits with the code. Header-only, so
// the pure helpers compiled into the unit tests (shard_option.cpp) can throw it too.

#include <stdexcept>
#include <string>

namespace jobpatch::cli {

// Exit codes of the SPEC (README "Exit codes", and each subcommand's --help).
inline constexpr int exit_ok = 0;
inline constexpr int exit_some_failed = 1;
// Usage, configuration, an input or output refused: nothing was sent. Never after the
// first request left: a failure from then on is exit_aborted or exit_output_failed.
inline constexpr int exit_usage = 2;
inline constexpr int exit_aborted = 3;
// An output could not be written during or after the run: sending stopped, or had ended.
inline constexpr int exit_output_failed = 4;
// bench: a --fail-if gate failed.
inline constexpr int exit_gate_failed = 5;

class cli_error : public std::runtime_error {
public:
  // `message` is one line without the "jobpatch: " prefix; empty when everything worth
  // saying was printed already.
  cli_error(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

private:
  int exit_code_;
};

// A refusal before anything is sent: exit 2.
[[noreturn]] inline void refuse(const std::string& message) {
  throw cli_error(exit_usage, message);
}

} // namespace jobpatch::cli
