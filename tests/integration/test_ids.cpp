// `--ids FILE|- --op OP --body JSON|@FILE`: the same update for every job of a list, read
// as the equivalent manifest by validate, apply and bench.

#include "apply_runner.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <chrono>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string configs_body = R"({"taskTimeout":600,"isTestJob":true})";

// Runs `jobpatch COMMAND args` against `mock`; stderr in mock.path(COMMAND + ".err").
int run_jobpatch(const mock_process& mock, const std::string& command,
                 std::vector<std::string> args) {
  std::vector<std::string> argv = {JOBPATCH_BIN, command};
  if (command != "validate")
    argv.insert(argv.end(), {"--base-url", "https://localhost:" + std::to_string(mock.port()),
                             "--cacert", mock.cert()});
  argv.insert(argv.end(), args.begin(), args.end());
  child_process run(argv, {{"BYTENITE_API_KEY", mock_test_key}}, mock.path(command + ".out"),
                    mock.path(command + ".err"));
  return run.wait(60s);
}

// The journal without its sequence numbers: job, op and body of each applied PATCH.
std::vector<std::string> applied(const mock_process& mock) {
  std::vector<std::string> out;
  for (auto& r : mock.journal_records())
    out.push_back(json::serialize(r.at("jobId")) + " " + json::serialize(r.at("op")) + " " +
                  json::serialize(r.at("body")));
  return out;
}

// Results without their timestamps and run ids.
std::vector<std::string> results_of(const std::string& path) {
  std::vector<std::string> out;
  for (const auto& line : read_lines(path)) {
    auto r = json::parse(line).as_object();
    r.erase("ts");
    r.erase("runId");
    r.erase("latencyMs");
    out.push_back(json::serialize(r));
  }
  return out;
}

} // namespace

TEST_CASE("ids: apply --ids applies what the equivalent manifest applies, line for line") {
  std::string ids = "# jobs to raise\n job-0000003\t\njob-0000001\n\n#job-0000002\njob-0000004\n";
  std::string manifest;
  for (const char* id : {"job-0000003", "job-0000001", "job-0000004"})
    manifest +=
        std::string(R"({"jobId":")") + id + R"(","op":"configs","body":)" + configs_body + "}\n";

  mock_process by_ids({}, 5);
  write_file(by_ids.path("ids.txt"), ids);
  write_file(by_ids.path("body.json"), "{\n  \"taskTimeout\": 600,\n  \"isTestJob\": true\n}\n");
  CHECK(run_jobpatch(by_ids, "apply",
                     {"--ids", by_ids.path("ids.txt"), "--op", "configs", "--body",
                      "@" + by_ids.path("body.json"), "--connections", "1", "--results",
                      by_ids.path("r.ndjson")}) == 0);
  INFO(read_file(by_ids.path("apply.err")));
  mock_process by_manifest({}, 5);
  write_file(by_manifest.path("m.ndjson"), manifest);
  CHECK(run_jobpatch(by_manifest, "apply",
                     {by_manifest.path("m.ndjson"), "--connections", "1", "--results",
                      by_manifest.path("r.ndjson")}) == 0);
  by_ids.stop();
  by_manifest.stop();
  auto journal = applied(by_ids);
  REQUIRE(journal.size() == 3);
  // The body from @FILE went out on one line, as written otherwise.
  CHECK(journal[0] == R"("job-0000003" "configs" {"taskTimeout":600,"isTestJob":true})");
  CHECK(journal == applied(by_manifest));
  // Line numbers are the ids file's: 2, 3 and 6.
  auto records = results_of(by_ids.path("r.ndjson"));
  REQUIRE(records.size() == 3);
  CHECK(json::parse(records[0]).at("line").as_int64() == 2);
  CHECK(json::parse(records[2]).at("line").as_int64() == 6);
}

TEST_CASE("ids: a bad id is reported with its line of the ids file, and nothing is sent") {
  mock_process mock({}, 5);
  write_file(mock.path("ids.txt"), "job-0000001\n# a comment\njob-\x01"
                                   "0000002\njob-0000003\n");
  int code = run_jobpatch(mock, "apply",
                          {"--ids", mock.path("ids.txt"), "--op", "jobname", "--body", "\"n\""});
  auto err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(code == 2);
  CHECK(err.find("line 3: jobId must not contain control characters") != std::string::npos);
  mock.stop();
  CHECK(read_lines(mock.journal()).empty());
}

TEST_CASE("ids: validate --ids, and a bad --body refused with the schema's message") {
  mock_process mock({}, 1);
  write_file(mock.path("ids.txt"), "a\nb\n\n#c\nd\n");
  CHECK(run_jobpatch(mock, "validate",
                     {"--ids", mock.path("ids.txt"), "--op", "params", "--body",
                      R"({"preset":"fast"})"}) == 0);
  CHECK(read_file(mock.path("validate.err")).find("3 lines: 3 valid") != std::string::npos);

  CHECK(run_jobpatch(mock, "validate",
                     {"--ids", mock.path("ids.txt"), "--op", "configs", "--body",
                      R"({"taskTimout":1})"}) == 2);
  auto err = read_file(mock.path("validate.err"));
  INFO(err);
  CHECK(err.find("--body: configs: unknown key \"taskTimout\"") != std::string::npos);
  // A manifest and --ids at once, or --ids without --op, are usage errors.
  CHECK(run_jobpatch(mock, "validate",
                     {mock.path("ids.txt"), "--ids", mock.path("ids.txt"), "--op", "params",
                      "--body", "{}"}) == 2);
  CHECK(run_jobpatch(mock, "validate", {"--ids", mock.path("ids.txt")}) == 2);
}

TEST_CASE("ids: --ids - on a pipe is a stream: a bad id is recorded, the others applied") {
  mock_process mock({}, 5);
  write_file(mock.path("ids.txt"), "job-0000001\n\"quoted\x02\"\njob-0000002\n");
  std::string command = "cat '" + mock.path("ids.txt") + "' | exec \"$@\"";
  child_process run({"/bin/sh", "-c", command, "sh", JOBPATCH_BIN, "apply", "--ids", "-", "--op",
                     "configs", "--body", configs_body, "--base-url",
                     "https://localhost:" + std::to_string(mock.port()), "--cacert", mock.cert(),
                     "--results", mock.path("r.ndjson")},
                    {{"BYTENITE_API_KEY", mock_test_key}}, {}, mock.path("apply.err"));
  int code = run.wait(60s);
  auto err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(code == 1);
  CHECK(err.find("line 2: jobId must not contain control characters") != std::string::npos);
  mock.stop();
  CHECK(mock.journal_records().size() == 2);
  CHECK(read_lines(mock.path("r.ndjson")).size() == 3);
}

TEST_CASE("ids: bench --ids sends the update to the listed jobs") {
  mock_process mock({}, 5);
  write_file(mock.path("ids.txt"), "job-0000002\njob-0000005\n");
  CHECK(run_jobpatch(mock, "bench",
                     {"--ids", mock.path("ids.txt"), "--op", "jobname", "--body", "\"bench\"",
                      "--rate", "40", "--duration", "0.5", "--connections", "2"}) == 0);
  INFO(read_file(mock.path("bench.err")));
  mock.stop();
  auto records = mock.journal_records();
  CHECK(records.size() == 20);
  for (auto& r : records) {
    CHECK(r.at("op").as_string() == "jobname");
    CHECK(
        (r.at("jobId").as_string() == "job-0000002" || r.at("jobId").as_string() == "job-0000005"));
  }
}

TEST_CASE("ids: an id listed twice is sent once, with one note, from a file and a pipe") {
  mock_process mock({}, 5);
  write_file(mock.path("ids.txt"), "job-0000001\njob-0000002\n job-0000001\n# job-0000002\n"
                                   "job-0000002\njob-0000003\n");
  const std::string note =
      "jobpatch: note: 2 duplicate ids in --ids (the first on line 3): each sent once\n";
  auto notes_in = [&](const std::string& err) {
    std::size_t n = 0;
    for (auto at = err.find(note); at != std::string::npos; at = err.find(note, at + 1)) ++n;
    return n;
  };
  // A file is read twice by apply (validated whole, then sent): one note.
  CHECK(run_jobpatch(mock, "apply",
                     {"--ids", mock.path("ids.txt"), "--op", "jobname", "--body", "\"once\"",
                      "--results", mock.path("r.ndjson")}) == 0);
  auto err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(notes_in(err) == 1);
  CHECK(err.find("3 lines: 3 ok") != std::string::npos);
  std::vector<std::int64_t> lines;
  for (const auto& record : read_lines(mock.path("r.ndjson")))
    lines.push_back(json::parse(record).at("line").as_int64());
  std::sort(lines.begin(), lines.end());              // records come as outcomes arrive
  CHECK(lines == std::vector<std::int64_t>{1, 2, 6}); // the ids file's line numbers
  // A pipe is read once: one note too.
  std::string command = "cat '" + mock.path("ids.txt") + "' | exec \"$@\"";
  child_process run({"/bin/sh", "-c", command, "sh", JOBPATCH_BIN, "apply", "--ids", "-", "--op",
                     "jobname", "--body", "\"twice\"", "--base-url",
                     "https://localhost:" + std::to_string(mock.port()), "--cacert", mock.cert()},
                    {{"BYTENITE_API_KEY", mock_test_key}}, {}, mock.path("pipe.err"));
  CHECK(run.wait(60s) == 0);
  std::string pipe_err = read_file(mock.path("pipe.err"));
  INFO(pipe_err);
  CHECK(notes_in(pipe_err) == 1);
  // validate counts what apply sends.
  CHECK(run_jobpatch(mock, "validate",
                     {"--ids", mock.path("ids.txt"), "--op", "jobname", "--body", "\"x\""}) == 0);
  std::string validate_err = read_file(mock.path("validate.err"));
  CHECK(notes_in(validate_err) == 1);
  CHECK(validate_err.find("3 lines: 3 valid") != std::string::npos);
  mock.stop();
  std::vector<std::string> sent;
  for (auto& r : mock.journal_records()) sent.push_back(std::string(r.at("jobId").as_string()));
  CHECK(sent.size() == 6); // each of the 3 jobs once per run
  for (const char* job : {"job-0000001", "job-0000002", "job-0000003"})
    CHECK(std::count(sent.begin(), sent.end(), job) == 2);
}

TEST_CASE("ids: --op near an op's name and a bare jobname --body are answered with the fix") {
  temp_dir dir;
  write_file(dir.path("ids.txt"), "job-1\n");
  auto refusal = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {JOBPATCH_BIN, "validate", "--ids", dir.path("ids.txt")};
    argv.insert(argv.end(), args.begin(), args.end());
    child_process run(argv, {}, {}, dir.path("err"));
    CHECK(run.wait(30s) == 2);
    return read_file(dir.path("err"));
  };
  CHECK(refusal({"--op", "config", "--body", "{}"}) ==
        "jobpatch: --op: unknown op \"config\" (did you mean \"configs\"?)\n");
  CHECK(refusal({"--op", "rename", "--body", "{}"}) ==
        "jobpatch: --op: unknown op \"rename\" (expected datasource, params, jobname or "
        "configs)\n");
  CHECK(refusal({"--op", "jobname", "--body", "archived"}) ==
        "jobpatch: --body: invalid JSON: malformed structure; a jobname is a JSON string: quote "
        "it, e.g. --body '\"archived\"'\n");
  CHECK(refusal({"--op", "jobname", "--body", "42"}) ==
        "jobpatch: --body: jobname body must be a JSON string, got number 42; quote it, e.g. "
        "--body '\"42\"'\n");
  write_file(dir.path("body.txt"), "archived\n");
  CHECK(refusal({"--op", "jobname", "--body", "@" + dir.path("body.txt")})
            .ends_with("a jobname is a JSON string: quote it in the file, e.g. \"archived\"\n"));
  // Text that cannot be shown in a shell example is not: NAME stands for it.
  CHECK(refusal({"--op", "jobname", "--body", "it's"}).ends_with("--body '\"NAME\"'\n"));
}
