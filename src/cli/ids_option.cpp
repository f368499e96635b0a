#include "cli/ids_option.hpp"

#include "cli/cli_error.hpp"

#include <jobpatch/manifest/line_validator.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace jobpatch::cli {

void add_ids_options(CLI::App& command, ids_arguments& a, CLI::Option* manifest) {
  auto* ids = command.add_option(
      "--ids", a.ids,
      "instead of a manifest: job ids, one per line, or - for stdin (blank lines and lines "
      "starting with # ignored); each gets --op with --body");
  ids->excludes(manifest);
  command.add_option("--op", a.op, "with --ids: datasource, params, jobname or configs")
      ->needs(ids);
  command.add_option("--body", a.body, "with --ids: the JSON body of every update, or @FILE")
      ->needs(ids);
}

namespace {

std::string read_body_file(const std::string& path) {
  if (path == "-")
    refuse("--body @- is not supported: name a file (standard input may "
           "hold the ids)");
  std::ifstream in(path, std::ios::binary);
  if (!in) refuse("--body @" + path + ": cannot read it: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// What --body needs said when it is refused (`problem`): a jobname is a JSON string, so a
// bare word must be quoted twice (for JSON, and for the shell around it).
std::string body_hint(op_kind op, const std::string& body, const std::string& problem,
                      bool from_file) {
  if (op != op_kind::jobname || body.starts_with('"')) return {};
  bool shown =
      !body.empty() && body.size() <= 64 && std::all_of(body.begin(), body.end(), [](char c) {
        return c >= 0x20 && c < 0x7f && c != '\'' && c != '"' && c != '\\';
      });
  bool said = problem.find("must be a JSON string") != std::string::npos;
  std::string name = shown ? body : "NAME";
  return std::string(said ? "; quote it" : "; a jobname is a JSON string: quote it") +
         (from_file ? " in the file, e.g. \"" + name + "\"" : ", e.g. --body '\"" + name + "\"'");
}

// Says once per run (whichever pass over the list finishes first) how many ids were
// skipped as duplicates: the count is the same on every pass.
void note_duplicates(ids_template& t) {
  auto told = std::make_shared<std::atomic<bool>>(false);
  t.on_duplicates = [told](std::uint64_t duplicates, std::uint64_t first_line) {
    if (told->exchange(true)) return;
    std::fprintf(stderr,
                 "jobpatch: note: %llu duplicate ids in --ids (the first on line %llu): "
                 "each sent once\n",
                 static_cast<unsigned long long>(duplicates),
                 static_cast<unsigned long long>(first_line));
  };
}

} // namespace

std::optional<ids_template> resolve_ids(const ids_arguments& a, std::string& manifest) {
  if (a.ids.empty()) {
    if (manifest.empty()) refuse("name a MANIFEST, or --ids FILE with --op OP --body JSON");
    return std::nullopt;
  }
  if (a.op.empty() || a.body.empty())
    refuse("--ids needs --op OP and --body JSON (or --body @FILE)");
  auto op = parse_op_kind(a.op);
  if (!op) refuse("--op: " + unknown_op_message(a.op));
  std::string body = a.body.starts_with('@') ? read_body_file(a.body.substr(1)) : a.body;
  // Checked once, with the schema's own words, as the body of a line of a sample job.
  ids_template t{std::string(to_string(*op)), ids_body_line(body)};
  if (t.body.empty()) refuse("--body is empty");
  std::string line = "{\"jobId\":\"x\",\"op\":\"" + t.op + "\",\"body\":" + t.body + "}";
  line_validator validator;
  operation sample;
  if (!validator.validate(line, line.size(), 0, sample))
    refuse("--body: " + validator.error().message +
           body_hint(*op, t.body, validator.error().message, a.body.starts_with('@')));
  // One JSON value and nothing after it (text after it would be read as keys of the line).
  if (sample.body != t.body) refuse("--body must be one JSON value");
  manifest = a.ids;
  note_duplicates(t);
  return t;
}

} // namespace jobpatch::cli
