// jobpatch as an operator types it: pipes, process substitution, the same file under two
// names, two runs at once, a deadline, typos. Each case failed on the main of issue 11.

#include "apply_runner.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

using namespace jobpatch::test;
namespace json = boost::json;
using std::chrono::seconds;

namespace {

// Runs `command` with bash (so pipes and <(...) work as typed), JOBPATCH naming the
// binary and the mock's URL options in CONNECT; returns the exit code, stderr in `err`.
int shell(const mock_process& mock, const std::string& command, std::string& err,
          seconds timeout = seconds(60)) {
  std::string connect =
      "--base-url https://localhost:" + std::to_string(mock.port()) + " --cacert " + mock.cert();
  child_process child(
      {"/bin/bash", "-c", command},
      {{"JOBPATCH", JOBPATCH_BIN}, {"CONNECT", connect}, {"BYTENITE_API_KEY", mock_test_key}}, "",
      mock.path("shell.err"));
  int code = child.wait(timeout);
  err = read_file(mock.path("shell.err"));
  return code;
}

std::size_t count_lines(const std::string& path) { return read_lines(path).size(); }

} // namespace

TEST_CASE("operator: a pipe, /dev/stdin and <(...) are read once, like -, and applied") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 40, 20);
  std::string err;
  CHECK(shell(mock,
              "cat " + manifest + " | $JOBPATCH apply /dev/stdin $CONNECT --results " +
                  mock.path("r1.ndjson"),
              err) == 0);
  INFO(err);
  CHECK(count_lines(mock.path("r1.ndjson")) == 40);
  CHECK(
      shell(mock,
            "$JOBPATCH apply <(cat " + manifest + ") $CONNECT --results " + mock.path("r2.ndjson"),
            err) == 0);
  CHECK(count_lines(mock.path("r2.ndjson")) == 40);
}

TEST_CASE("operator: invalid lines of a stream are printed with their numbers, exit 1") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
  std::string err;
  int code =
      shell(mock,
            "(head -2 " + manifest +
                "; echo '{\"jobId\":\"job-0000001\",\"op\":\"confgs\",\"body\":{}}'; "
                "tail -n +3 " +
                manifest + ") | $JOBPATCH apply - $CONNECT --results " + mock.path("r.ndjson"),
            err);
  INFO(err);
  CHECK(code == 1);
  CHECK(err.find("line 3: unknown op \"confgs\" (did you mean \"configs\"?)") != std::string::npos);
  CHECK(count_lines(mock.path("r.ndjson")) == 11);
}

TEST_CASE("operator: an empty manifest says so and is not a success") {
  mock_process mock({}, 5);
  std::string err;
  CHECK(shell(mock, ": | $JOBPATCH apply - $CONNECT", err) == 2);
  CHECK(err.find("holds no updates") != std::string::npos);
  write_file(mock.path("empty.ndjson"), "\n");
  CHECK(shell(mock, "$JOBPATCH apply --skip-invalid " + mock.path("empty.ndjson") + " $CONNECT",
              err) == 2);
  CHECK(err.find("holds no updates") != std::string::npos);
}

// A file with --skip-invalid is read twice (the first pass finds the repeated jobs, so
// distinct jobs cost no memory); a stream is read once and counts every job. Both must
// key every update alike, or a resume from the other would send lines again.
TEST_CASE("operator: --skip-invalid keys a file's updates exactly as a stream's") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 60, 20); // each job three times
  std::string text = read_file(manifest);
  text.insert(text.find('\n', text.size() / 2) + 1,
              R"({"jobId":"job-0000003","op":"confgs","body":{}})"
              "\n");
  write_file(manifest, text);
  auto keys = [&](const std::string& results) {
    std::map<std::int64_t, std::string> by_line;
    for (const auto& line : read_lines(results)) {
      auto r = json::parse(line).as_object();
      std::string key = json::serialize(r["outcome"]);
      if (r.contains("seq"))
        key += " " + json::serialize(r["seq"]) + " " + json::serialize(r["fp"]);
      by_line[r["line"].as_int64()] = key;
    }
    return by_line;
  };
  std::string err;
  CHECK(shell(mock,
              "cat " + manifest + " | $JOBPATCH apply - --skip-invalid $CONNECT --results " +
                  mock.path("stream.ndjson"),
              err) == 1);
  CHECK(shell(mock,
              "$JOBPATCH apply " + manifest + " --skip-invalid $CONNECT --results " +
                  mock.path("file.ndjson"),
              err) == 1);
  INFO(err);
  auto stream = keys(mock.path("stream.ndjson")), file = keys(mock.path("file.ndjson"));
  CHECK(stream.size() == 61);
  CHECK(stream == file);
  auto count = [&](std::string_view prefix) {
    return std::count_if(stream.begin(), stream.end(),
                         [&](const auto& kv) { return kv.second.starts_with(prefix); });
  };
  CHECK(count("\"invalid\"") == 1);
  CHECK(count("\"ok\" 1 ") > 0); // first updates, and later ones numbered on
  CHECK(count("\"ok\" 3 ") > 0);
}

TEST_CASE("operator: an output that is an input or another output, under any spelling, is "
          "refused before anything is sent") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  std::string original = read_file(manifest);
  std::filesystem::create_symlink(manifest, mock.path("link.ndjson"));
  std::filesystem::create_hard_link(manifest, mock.path("hard.ndjson"));
  write_file(mock.path("key"), mock_test_key);
  std::string err;
  for (std::string outputs :
       {"--failed-out " + manifest, "--results " + mock.path("link.ndjson") + " --force",
        "--summary-json " + mock.path("hard.ndjson"),
        "--results " + mock.path("r.ndjson") + " --failed-out " + mock.path("./r.ndjson"),
        "--metrics-file " + mock.path("key") + " --api-key-file " + mock.path("key"),
        // Standard output holds one output, and redirected it is the file it names.
        std::string("--results - --failed-out -"), "--summary-json - >> " + manifest}) {
    CAPTURE(outputs);
    CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT " + outputs, err) == 2);
    CHECK(err.find("nothing was sent") != std::string::npos);
  }
  CHECK(read_file(manifest) == original);
  CHECK(read_file(mock.path("key")) == mock_test_key);
  CHECK(mock.stats().at("applied").as_int64() == 0);

  // validate's --results follows apply's overwrite rule.
  write_file(mock.path("old.ndjson"), "{\"line\":1,\"outcome\":\"ok\"}\n");
  CHECK(shell(mock, "$JOBPATCH validate " + manifest + " --results " + mock.path("old.ndjson"),
              err) == 2);
  CHECK(read_file(mock.path("old.ndjson")) == "{\"line\":1,\"outcome\":\"ok\"}\n");
  CHECK(shell(mock, "$JOBPATCH validate " + manifest + " --results " + manifest + " --force",
              err) == 2);
  CHECK(read_file(manifest) == original);
}

TEST_CASE("operator: outputs that cannot be written are exit 2 before the first request") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  std::string err;
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --summary-json /no/such/dir/s.json",
              err) == 2);
  CHECK(err.find("/no/such/dir") != std::string::npos);
  std::filesystem::create_directory(mock.path("dir"));
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --results " + mock.path("dir"),
              err) == 2);
  CHECK(err.find("is a directory") != std::string::npos);
  CHECK(shell(mock,
              "$JOBPATCH bench " + manifest +
                  " $CONNECT --rate 10 --duration 1 --report /no/such/dir/b.html",
              err) == 2);
  CHECK(mock.stats().at("applied").as_int64() == 0);
}

TEST_CASE("operator: a --summary-json that cannot be written after a finished run is exit 4, "
          "naming the file") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  std::string err;
  // Every line is applied; only the summary fails. Lines were sent: never exit 2.
  int code = shell(mock,
                   "$JOBPATCH apply " + manifest + " $CONNECT --results " + mock.path("r.ndjson") +
                       " --summary-json /dev/full --metrics-file " + mock.path("metrics.prom"),
                   err);
  INFO(err);
  CHECK(code == 4);
  CHECK(err.find("jobpatch: --summary-json /dev/full could not be written: cannot write "
                 "/dev/full: No space left on device (the run itself ended with exit code 0)") !=
        std::string::npos);
  CHECK(mock.stats().at("applied").as_int64() == 20);
  CHECK(count_lines(mock.path("r.ndjson")) == 20);
  CHECK(read_file(mock.path("metrics.prom")).find("jobpatch_exit_code 4") != std::string::npos);
  // bench alike: the run happened, its summary is what is missing.
  code = shell(mock,
               "$JOBPATCH bench " + manifest +
                   " $CONNECT --rate 20 --duration 0.5 --summary-json /dev/full",
               err);
  CHECK(code == 4);
  CHECK(err.find("jobpatch: --summary-json /dev/full could not be written") != std::string::npos);
}

TEST_CASE("operator: a refusal before the first request is exit 2, said once, nothing sent") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  std::string err;
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --retry-failed", err) == 2);
  CHECK(err == "jobpatch: --retry-failed only means something with --resume (without it every "
               "line is sent)\n");
  write_file(mock.path("r.ndjson"), "{\"line\":1,\"outcome\":\"ok\"}\n");
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --results " + mock.path("r.ndjson"),
              err) == 2);
  CHECK(err == "jobpatch: " + mock.path("r.ndjson") +
                   " already holds results; pass --resume to continue that run, or --force to "
                   "overwrite it\n");
  CHECK(mock.stats().at("applied").as_int64() == 0);
}

TEST_CASE("operator: a second run on the same results file is refused at once, naming the "
          "first one's pid") {
  mock_process mock({"--latency-ms", "100"}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 60, 20);
  child_process first(jobpatch_argv(mock, "apply", manifest,
                                    {"--connections", "1", "--results", mock.path("r.ndjson")}),
                      {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path("first.err"));
  REQUIRE(wait_for_file(mock.path("r.ndjson"), seconds(30)));
  std::string err;
  CHECK(
      shell(mock,
            "$JOBPATCH apply " + manifest + " $CONNECT --resume --results " + mock.path("r.ndjson"),
            err) == 2);
  CHECK(err.find("in use by another jobpatch run (pid " + std::to_string(first.pid()) + ")") !=
        std::string::npos);
  CHECK(first.wait(seconds(60)) == 0);
  CHECK(count_lines(mock.path("r.ndjson")) == 60);
}

TEST_CASE("operator: a second run on the same --undo-out file is refused at once") {
  mock_process mock({"--latency-ms", "100"}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 40, 20);
  child_process first(jobpatch_argv(mock, "apply", manifest,
                                    {"--connections", "1", "--results", mock.path("r1.ndjson"),
                                     "--undo-out", mock.path("undo.ndjson")}),
                      {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path("first.err"));
  REQUIRE(wait_for_lines(mock.path("r1.ndjson"), 1, first, seconds(60)) >= 1); // past its locks
  std::string err;
  CHECK(shell(mock,
              "$JOBPATCH apply " + manifest + " $CONNECT --resume --results " +
                  mock.path("r2.ndjson") + " --undo-out " + mock.path("undo.ndjson"),
              err) == 2);
  CHECK(err.find("--undo-out " + mock.path("undo.ndjson") + " is in use by another jobpatch run") !=
        std::string::npos);
  CHECK(first.wait(seconds(120)) == 0);
  CHECK(count_lines(mock.path("r1.ndjson")) == 40);
}

// Issue 23: an undo file may be all that can put jobs back. --force (the results) never
// drops it; only --force-undo starts a new one, keeping the old one whole beside it.
TEST_CASE("operator: a second run over an undo file is refused (with --force too) naming every "
          "file that holds data: nothing is sent and the undo file is kept as it was") {
  mock_process mock({}, 10);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  std::string r = mock.path("r.ndjson"), u = mock.path("u.ndjson");
  std::string run = "$JOBPATCH apply " + manifest + " $CONNECT --results " + r + " --undo-out " + u;
  std::string err;
  REQUIRE(shell(mock, run, err) == 0);
  std::string results = read_file(r), undo = read_file(u);
  REQUIRE(!read_lines(u).empty());
  auto patches = mock.stats().at("applied").as_int64();
  std::string undo_lines = u + " already holds undo lines (they may be all that can put jobs back)";

  CHECK(shell(mock, run, err) == 2);
  CHECK(err == "jobpatch: " + r + " already holds results and " + undo_lines +
                   "; pass --resume to continue that run and add to them, or --force "
                   "--force-undo to keep them as " +
                   u + ".1 and start a new file; nothing was sent\n");
  CHECK(shell(mock, run + " --force", err) == 2);
  CHECK(err == "jobpatch: --force never overwrites undo lines: " + undo_lines +
                   "; pass --resume to add to them, or --force-undo to keep them as " + u +
                   ".1 and start a new file; nothing was sent\n");
  // Without --results, --force alike.
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --force --undo-out " + u, err) == 2);
  CHECK(err.find(undo_lines) != std::string::npos);
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --force-undo", err) == 2);
  CHECK(err.find("--force-undo only means something with --undo-out") != std::string::npos);
  CHECK(shell(mock, run + " --resume --force-undo", err) == 2);
  CHECK(err.find("--force-undo starts a new undo file and --resume adds to the one there") !=
        std::string::npos);

  CHECK(read_file(u) == undo);
  CHECK(read_file(r) == results);
  CHECK(!std::filesystem::exists(u + ".1"));
  CHECK(mock.stats().at("applied").as_int64() == patches);
}

TEST_CASE("operator: --force-undo keeps the old undo file whole as FILE.1 (then FILE.2) and the "
          "command that continues the run drops it and adds to the new file") {
  mock_process mock({}, 10);
  auto names = [&](const std::string& prefix, int from, int to) {
    std::string text;
    for (int i = from; i <= to; ++i)
      text += R"({"jobId":"job-000000)" + std::to_string(i) + R"(","op":"jobname","body":")" +
              prefix + std::to_string(i) + "\"}\n";
    return text;
  };
  write_file(mock.path("first.ndjson"), names("first-", 1, 5));
  // job-0000099 does not exist (404): the run ends with the command that continues it.
  write_file(mock.path("second.ndjson"),
             names("second-", 1, 5) + R"({"jobId":"job-0000099","op":"jobname","body":"none"})"
                                      "\n");
  std::string r = mock.path("r.ndjson"), u = mock.path("u.ndjson");
  std::string outputs = " $CONNECT --results " + r + " --undo-out " + u;
  std::string err;
  REQUIRE(shell(mock, "$JOBPATCH apply " + mock.path("first.ndjson") + outputs, err) == 0);
  std::string first_undo = read_file(u);
  REQUIRE(read_lines(u).size() == 5);

  CHECK(shell(mock,
              "$JOBPATCH apply " + mock.path("second.ndjson") + outputs + " --force --force-undo",
              err) == 1);
  INFO(err);
  CHECK(err.find("--force-undo: the undo lines " + u + " held are kept in " + u + ".1") !=
        std::string::npos);
  CHECK(read_file(u + ".1") == first_undo);
  // This run's undo lines restore what the first run set.
  auto undo = read_lines(u);
  CHECK(undo.size() == 5);
  for (const auto& line : undo) CHECK(line.find(R"("body":"first-)") != std::string::npos);

  // The command that continues the run, as printed: --resume, neither --force nor
  // --force-undo. Run on the manifest with two more jobs, it adds their undo lines.
  auto at = err.find("to continue: jobpatch apply ");
  REQUIRE(at != std::string::npos);
  std::string command = err.substr(at + 13, err.find('\n', at) - at - 13);
  CHECK(command.find("--force") == std::string::npos);
  CHECK(command.find("--resume") != std::string::npos);
  write_file(mock.path("second.ndjson"),
             read_file(mock.path("second.ndjson")) + names("third-", 6, 7));
  CHECK(shell(mock, "$JOBPATCH" + command.substr(8), err) == 1); // job-0000099 failed before
  auto resumed = read_lines(u);
  REQUIRE(resumed.size() == 7);
  CHECK(std::equal(undo.begin(), undo.end(), resumed.begin()));
  CHECK(read_file(u + ".1") == first_undo);

  // Again: FILE.1 is taken, so the file goes to FILE.2; nothing is overwritten.
  std::string second_undo = read_file(u);
  CHECK(shell(mock,
              "$JOBPATCH apply " + mock.path("first.ndjson") + outputs + " --force --force-undo",
              err) == 0);
  CHECK(read_file(u + ".1") == first_undo);
  CHECK(read_file(u + ".2") == second_undo);
  undo = read_lines(u);
  CHECK(undo.size() == 5);
  for (const auto& line : undo) CHECK(line.find(R"("body":"second-)") != std::string::npos);
}

// Issue 23: a summary, report or merged output is replaced at once (a temporary file
// renamed over it), never left empty or cut short.
TEST_CASE("operator: a summary, report or merged output that cannot be written whole leaves the "
          "earlier file as it was, and no temporary file") {
  mock_process mock({}, 10);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  std::string err;
  REQUIRE(shell(mock,
                "$JOBPATCH apply " + manifest + " $CONNECT --results " + mock.path("r.ndjson") +
                    " --summary-json " + mock.path("s.json"),
                err) == 0);
  std::filesystem::create_directory(mock.path("out"));
  auto out = [&](const std::string& name) { return mock.path("out/" + name); };
  const std::string earlier = "{\"earlier\":true}\n";
  const std::vector<std::string> files = {"apply.json", "bench.json", "bench.html", "merged.json",
                                          "merged.ndjson"};
  for (const auto& name : files) write_file(out(name), earlier);
  // Every file jobpatch writes is cut at 1 KiB (EFBIG, SIGXFSZ ignored): each output fails
  // part way. Its standard error is a pipe, which the limit does not cut.
  auto limited = [&](const std::string& command) {
    return shell(mock,
                 "set -o pipefail; (trap '' XFSZ; ulimit -f 1; exec $JOBPATCH " + command +
                     ") 2>&1 | cat >&2",
                 err);
  };
  CHECK(limited("apply " + manifest + " $CONNECT --summary-json " + out("apply.json")) == 4);
  CHECK(err.find("--summary-json " + out("apply.json") + " could not be written") !=
        std::string::npos);
  CHECK(limited("bench " + manifest + " $CONNECT --rate 20 --duration 0.3 --summary-json " +
                out("bench.json") + " --report " + out("bench.html")) == 4);
  CHECK(err.find("--summary-json " + out("bench.json") + " could not be written") !=
        std::string::npos);
  CHECK(limited("merge " + mock.path("r.ndjson") + " --results " + out("merged.ndjson") +
                " --force") == 4);
  CHECK(limited("merge --summaries " + mock.path("s.json") + " --summary-json " +
                out("merged.json") + " --force") == 4);
  for (const auto& name : files) {
    CAPTURE(name);
    CHECK(read_file(out(name)) == earlier);
  }
  std::size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(mock.path("out"))) {
    CAPTURE(entry.path());
    CHECK(std::find(files.begin(), files.end(), entry.path().filename()) != files.end());
    ++entries;
  }
  CHECK(entries == files.size());
  // Without the limit each is replaced, whole.
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --summary-json " + out("apply.json"),
              err) == 0);
  CHECK(json::parse(read_file(out("apply.json"))).at("total").as_int64() == 20);
}

TEST_CASE("operator: after a deadline the unsent lines are in --failed-out and the summary "
          "says how to continue") {
  mock_process mock({"--latency-ms", "50"}, 50);
  auto manifest = make_manifest(mock, "m.ndjson", 400, 50);
  std::string err;
  int code =
      shell(mock,
            "$JOBPATCH apply " + manifest + " $CONNECT --connections 2 --deadline 1 --results " +
                mock.path("r.ndjson") + " --failed-out " + mock.path("f.ndjson"),
            err);
  INFO(err);
  CHECK(code == 1);
  std::size_t ok = 0;
  for (const auto& line : read_lines(mock.path("r.ndjson")))
    ok += json::parse(line).at("outcome").as_string() == "ok";
  std::size_t unsent = count_lines(mock.path("f.ndjson"));
  CHECK(ok < 400);
  CHECK(ok + unsent == 400);
  CHECK(err.find("to continue: jobpatch apply " + manifest) != std::string::npos);
  CHECK(err.find("--resume") != std::string::npos);
  // Feeding the failed lines back completes the manifest.
  CHECK(shell(mock, "$JOBPATCH apply " + mock.path("f.ndjson") + " $CONNECT --connections 8",
              err) == 0);
}

TEST_CASE("operator: errors name the real cause") {
  mock_process mock({}, 5);
  auto manifest = make_manifest(mock, "m.ndjson", 5, 5);
  std::string err;
  auto port = std::to_string(mock.port());
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " --conections 3", err) == 2);
  CHECK(err.find("did you mean --connections?") != std::string::npos);
  CHECK(err.rfind("jobpatch: ", 0) == 0);
  CHECK(shell(mock, "$JOBPATCH aply " + manifest, err) == 2);
  CHECK(err.find("did you mean apply?") != std::string::npos);
  CHECK(shell(mock, "$JOBPATCH --help", err) == 0);
  CHECK(shell(mock, "$JOBPATCH apply --help | grep -q '^Usage: jobpatch apply'", err) == 0);
  CHECK(shell(mock, "$JOBPATCH apply --help | grep -q '4 *an output could not be written'", err) ==
        0);
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --timeout 1e17", err) == 2);
  CHECK(err.find("--timeout must be between") != std::string::npos);
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " $CONNECT --rate 0", err) == 2);
  CHECK(shell(mock, "$JOBPATCH bench " + manifest + " $CONNECT --rate 0 --duration 1", err) == 2);
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " --base-url https://localhost:99999", err) ==
        2);
  CHECK(err.find("port must be 1 to 65535") != std::string::npos);
  CHECK(shell(mock, "$JOBPATCH apply " + manifest + " --base-url https://no-such-host.invalid",
              err) == 3);
  CHECK(shell(mock,
              "$JOBPATCH apply " + manifest + " --cacert " + mock.cert() +
                  " --base-url https://localhost:" + port + "/v1",
              err) == 3);
  CHECK(err.find("check --base-url") != std::string::npos);
  CHECK(shell(mock,
              "$JOBPATCH apply " + manifest + " --cacert " + mock.cert() +
                  " --base-url HTTPS://localhost:" + port,
              err) == 0);
  std::filesystem::create_directory(mock.path("keydir"));
  write_file(mock.path("empty.key"), "\n");
  CHECK(shell(mock,
              "$JOBPATCH apply " + manifest + " $CONNECT --api-key-file " + mock.path("keydir"),
              err) == 2);
  CHECK(err.find("is a directory") != std::string::npos);
  CHECK(shell(mock,
              "$JOBPATCH apply " + manifest + " $CONNECT --api-key-file " + mock.path("empty.key"),
              err) == 2);
  CHECK(err.find("is empty") != std::string::npos);
  CHECK(shell(mock,
              "$JOBPATCH apply " + manifest + " $CONNECT --api-key-file " + mock.path("nokey"),
              err) == 2);
  CHECK(err.find("No such file or directory") != std::string::npos);
  // A secret mounted 0440 for a group is shared on purpose: no warning.
  write_file(mock.path("group.key"), mock_test_key);
  ::chmod(mock.path("group.key").c_str(), 0440);
  CHECK(shell(mock,
              "$JOBPATCH apply " + manifest + " $CONNECT --api-key-file " + mock.path("group.key"),
              err) == 0);
  CHECK(err.find("readable") == std::string::npos);
  CHECK(shell(mock, "ulimit -n 64; $JOBPATCH apply " + manifest + " $CONNECT --connections 500",
              err) == 2);
  CHECK(err.find("--connections 500 needs more open files") != std::string::npos);
}

TEST_CASE("operator: the summary counts retries per line and names why lines failed, "
          "withheld ones included") {
  mock_process mock({"--fail-503", "0.4", "--seed", "5"}, 10);
  std::string manifest = mock.path("m.ndjson");
  std::string text;
  // The mock refuses an ftp data source with 400: the job's two later updates are withheld.
  text +=
      R"({"jobId":"job-0000001","op":"datasource","body":{"dataSource":{"dataSourceDescriptor":"ftp","params":{}}}})"
      "\n";
  for (int i = 0; i < 2; ++i)
    text += R"({"jobId":"job-0000001","op":"jobname","body":"x)" + std::to_string(i) + "\"}\n";
  for (int i = 2; i <= 10; ++i)
    text += std::string(R"({"jobId":"job-00000)") + (i < 10 ? "0" : "") + std::to_string(i) +
            R"(","op":"jobname","body":"y"})" + "\n";
  write_file(manifest, text);
  std::string err;
  int code =
      shell(mock,
            "$JOBPATCH apply " + manifest + " $CONNECT --connections 1 --max-attempts 30 " +
                "--results " + mock.path("r.ndjson") + " --summary-json " + mock.path("s.json"),
            err);
  INFO(err);
  CHECK(code == 1);
  std::uint64_t attempts = 0, lines_sent = 0;
  for (const auto& line : read_lines(mock.path("r.ndjson"))) {
    auto r = json::parse(line).as_object();
    if (auto* a = r.if_contains("attempts")) {
      attempts += a->to_number<std::uint64_t>();
      ++lines_sent;
    }
  }
  auto s = json::parse(read_file(mock.path("s.json"))).as_object();
  CHECK(s["attempts"].to_number<std::uint64_t>() == attempts);
  CHECK(s["retries"].to_number<std::uint64_t>() == attempts - lines_sent);
  auto by_error = s["byError"].as_object();
  CHECK(by_error["withheld (an earlier update of the job failed)"].as_int64() == 2);
  CHECK(by_error["HTTP 400 Bad Request"].as_int64() == 1);
  CHECK(err.find("2 withheld (an earlier update of the job failed)") != std::string::npos);
}
