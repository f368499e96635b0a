// Errors an operator meets first, each naming its cause and the fix (issue 25): CLI11's
// refusals in our words, a compressed or binary manifest, a directory for a manifest.

#include "apply_runner.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace jobpatch::test;
using namespace std::chrono_literals;

namespace {

// Runs `jobpatch args` (no server: everything here is refused before one is needed) and
// returns its stderr; `code` gets the exit code.
std::string stderr_of(const temp_dir& dir, std::vector<std::string> args, int& code) {
  std::vector<std::string> argv = {JOBPATCH_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process run(argv, {{"BYTENITE_API_KEY", "k"}}, dir.path("out"), dir.path("err"));
  code = run.wait(30s);
  return read_file(dir.path("err"));
}

// The first line of what `jobpatch args` says when it refuses them (exit 2).
std::string refusal(const temp_dir& dir, std::vector<std::string> args) {
  int code = 0;
  std::string err = stderr_of(dir, args, code);
  INFO(err);
  CHECK(code == 2);
  return err.substr(0, err.find('\n'));
}

} // namespace

TEST_CASE("hints: CLI11's refusals are said in our words, naming the option and the value") {
  temp_dir dir;
  std::string m = dir.path("m.ndjson");
  write_file(m, R"({"jobId":"j","op":"jobname","body":"a"})"
                "\n");
  CHECK(refusal(dir, {"apply", m, "--rate", "abc"}) == "jobpatch: --rate: \"abc\" is not a number");
  CHECK(refusal(dir, {"apply", m, "--rate=fast"}) == "jobpatch: --rate: \"fast\" is not a number");
  CHECK(refusal(dir, {"apply", m, "--connections", "0"}) ==
        "jobpatch: --connections: 0 must be from 1 to 4096");
  CHECK(refusal(dir, {"apply", m, "--connections", "many"}) ==
        "jobpatch: --connections: \"many\" is not a whole number from 1 to 4096");
  CHECK(refusal(dir, {"apply", m, "--timeout", "-1"}) == "jobpatch: --timeout: -1 must be more "
                                                         "than 0");
  CHECK(refusal(dir, {"apply", m, "--deadline", "-3"}) == "jobpatch: --deadline: -3 must be 0 or "
                                                          "more");
  CHECK(refusal(dir, {"apply", m, "--timeout", "1e999"}) == "jobpatch: --timeout: 1e999 is too "
                                                            "large");
  CHECK(refusal(dir, {"apply", m, "--progress", "sometimes"}) ==
        "jobpatch: --progress: \"sometimes\" must be one of auto, always, never");
  CHECK(refusal(dir, {"validate", m, "--max-line-bytes", "-5"}) ==
        "jobpatch: --max-line-bytes: \"-5\" is not a whole number from 1 to 1073741824");
  CHECK(refusal(dir, {"apply", m, "--rate"}) == "jobpatch: --rate needs a number");
  CHECK(refusal(dir, {"apply", m, "-H"}) == "jobpatch: --header needs a value");
  CHECK(refusal(dir, {"apply", m, "--ids", m}) == "jobpatch: pass a manifest or --ids, not both");
  CHECK(refusal(dir, {"apply", "--ids", m, m}) == "jobpatch: pass a manifest or --ids, not both");
  CHECK(refusal(dir, {"apply", m, "--op", "jobname"}) ==
        "jobpatch: --op goes with --ids FILE (a list of job ids): a manifest's lines carry their "
        "own op");
  CHECK(refusal(dir, {"apply", m, "b", "c"}) ==
        "jobpatch: unexpected arguments \"b\" \"c\" (apply takes one manifest, or --ids)");
  CHECK(refusal(dir, {"bench", m, "--rate", "10", "--duration", "soon"}) ==
        "jobpatch: --duration: \"soon\" is not a number above 0");
  CHECK(refusal(dir, {"frobnicate"}) == "jobpatch: unknown subcommand frobnicate (expected "
                                        "validate, apply, plan, bench, merge)");
  // The usage line still follows, and what CLI11 says well is left as it is.
  int code = 0;
  CHECK(stderr_of(dir, {"apply", m, "--rate", "abc"}, code)
            .ends_with("\nRun jobpatch --help for more information.\n"));
  CHECK(refusal(dir, {"apply", m, "--conections", "3"}) ==
        "jobpatch: unknown option --conections for apply (did you mean --connections?)");
}

TEST_CASE("hints: a gzip manifest is named after its first line, its other lines counted") {
  temp_dir dir;
  std::string manifest;
  for (int i = 1; i <= 3000; ++i)
    manifest += R"({"jobId":"job-)" + std::to_string(i) +
                R"(","op":"jobname","body":"a"})"
                "\n";
  write_file(dir.path("m.ndjson"), manifest);
  child_process gzip({"/bin/sh", "-c", "gzip -c \"$0\" > \"$0.gz\"", dir.path("m.ndjson")});
  REQUIRE(gzip.wait(30s) == 0);
  const std::string named = "; the manifest looks gzip-compressed: decompress it first, e.g. zcat "
                            "FILE | jobpatch apply -\n";
  // validate, and apply's validation of a file: line 1 and the count, not a line per line.
  for (std::vector<std::string> args :
       {std::vector<std::string>{"validate", dir.path("m.ndjson.gz")},
        std::vector<std::string>{"apply", dir.path("m.ndjson.gz"), "--base-url",
                                 "https://127.0.0.1:1"}}) {
    int code = 0;
    std::string err = stderr_of(dir, args, code);
    INFO(err);
    CHECK(code == 2);
    CHECK(err.starts_with("line 1: "));
    CHECK(err.find(named) != std::string::npos);
    CHECK(err.find("line 2:") == std::string::npos);
    CHECK(err.find("\n... and ") != std::string::npos);
    CHECK(std::count(err.begin(), err.end(), '\n') <= 3);
  }
  // Standard input redirected from it: validated first too, named the same.
  child_process run({"/bin/sh", "-c", "exec \"$@\" < \"$0\"", dir.path("m.ndjson.gz"), JOBPATCH_BIN,
                     "apply", "-", "--base-url", "https://127.0.0.1:1"},
                    {{"BYTENITE_API_KEY", "k"}}, dir.path("out"), dir.path("err"));
  CHECK(run.wait(30s) == 2);
  std::string err = read_file(dir.path("err"));
  CHECK(err.find(named) != std::string::npos);
  CHECK(err.find("line 2:") == std::string::npos);
}

TEST_CASE("hints: a directory given as the manifest is named by every command") {
  temp_dir dir;
  for (const char* command : {"validate", "apply", "plan", "bench"}) {
    INFO(command);
    std::vector<std::string> args = {command, "/tmp", "--base-url", "https://127.0.0.1:1"};
    if (std::string(command) == "validate") args.resize(2);
    if (std::string(command) == "bench")
      args.insert(args.end(), {"--rate", "1", "--duration", "1"});
    CHECK(refusal(dir, args) == "jobpatch: the manifest /tmp is a directory; name an NDJSON file");
  }
}
