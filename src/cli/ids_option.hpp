#pragma once
// `--ids FILE|- --op OP --body JSON|@FILE` (validate, apply, bench): one update for every
// job id of a list, read as the equivalent manifest (see ids_template), so every rule of
// a manifest (validation, line numbers, resume, failed-out, results) holds unchanged.

#include <jobpatch/manifest/manifest_reader.hpp>

#include <optional>
#include <string>

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace jobpatch::cli {

// The three options as typed.
struct ids_arguments {
  std::string ids; // path or "-"; empty = a manifest is given instead
  std::string op;
  std::string body; // JSON text, or @FILE
};

// Declares --ids, --op and --body on `command`; --ids excludes `manifest` (the positional).
void add_ids_options(CLI::App& command, ids_arguments& a, CLI::Option* manifest);

// After parsing: exactly one of `manifest` and --ids must be given. Returns nullopt when
// --ids is not used; otherwise the template, with `manifest` set to the ids file. Refuses
// (cli_error, exit 2) --op/--body missing or wrong:
// the body is validated here once, with the schema's own message, before anything runs.
std::optional<ids_template> resolve_ids(const ids_arguments& a, std::string& manifest);

} // namespace jobpatch::cli
