// Promises that held only under friendly conditions (issue 12): a results file that fills
// up, a kept-alive connection closed after the request was read, 1xx interim answers, a
// 204, absurd token lifetimes, servers that quote secrets back, a token endpoint outage,
// large lines, and a closed stderr. Each case fails on the engine before the fix.

#include "../test_skip.hpp"
#include "apply_runner.hpp"
#include "hostile_server.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

const std::string api_key = "hostile-key-5f1e9c2d";

std::string jobname_line(const std::string& job, const std::string& name) {
  return R"({"jobId":")" + job + R"(","op":"jobname","body":")" + name + "\"}\n";
}

struct hostile_apply {
  measured_run run;
  std::string err;
  std::vector<json::object> records;
};

// `jobpatch apply` of `manifest` against `server` (TLS, its certificate trusted) plus
// `extra`; every output goes into `dir`.
hostile_apply apply_to(const hostile_server& server, const temp_dir& dir,
                       const std::string& manifest, std::vector<std::string> extra = {}) {
  write_file(dir.path("m.ndjson"), manifest);
  write_file(dir.path("cert.pem"), server.certificate_pem());
  extra.insert(extra.begin(),
               {"--results", dir.path("r.ndjson"), "--summary-json", dir.path("s.json")});
  auto argv = jobpatch_argv(server.port(), dir.path("cert.pem"), "apply", dir.path("m.ndjson"),
                            std::move(extra));
  hostile_apply out;
  out.run =
      run_measured(argv, {{"BYTENITE_API_KEY", api_key}}, dir.path("out"), dir.path("err"), 60s);
  out.err = read_file(dir.path("err"));
  for (const auto& line : read_lines(dir.path("r.ndjson")))
    out.records.push_back(json::parse(line).as_object());
  return out;
}

} // namespace

TEST_CASE("hostile: 1xx interim answers before the 200 are skipped") {
  hostile_server server({.mode = hostile_mode::interim_then_ok});
  temp_dir dir;
  auto r = apply_to(server, dir, jobname_line("job-1", "a") + jobname_line("job-2", "b"),
                    {"--connections", "1"});
  INFO(r.err);
  CHECK(r.run.code == 0);
  REQUIRE(r.records.size() == 2);
  for (auto& record : r.records) {
    CHECK(record["outcome"].as_string() == "ok");
    CHECK(record["status"].as_int64() == 200);
    CHECK(record["attempts"].as_int64() == 1);
  }
}

TEST_CASE("hostile: 16 interim answers are skipped, a 17th is a malformed answer") {
  for (unsigned interim : {16u, 17u}) {
    hostile_server server({.mode = hostile_mode::interim_then_ok, .interim_answers = interim});
    temp_dir dir;
    auto r = apply_to(server, dir, jobname_line("job-1", "a"), {"--max-attempts", "1"});
    INFO(interim << " interim answers: " << r.err);
    REQUIRE(r.records.size() == 1);
    if (interim == 16) {
      CHECK(r.run.code == 0);
      CHECK(r.records[0]["outcome"].as_string() == "ok");
    } else {
      CHECK(r.run.code == 1);
      CHECK(r.records[0]["outcome"].as_string() == "failed");
      CHECK(std::string(r.records[0]["error"].as_string()).find("more than 16 interim") !=
            std::string::npos);
    }
  }
}

TEST_CASE("hostile: bytes after an answer are never taken for the next request's answer") {
  // Each 200 comes with a second one nobody asked for, in the same TLS record: the client
  // must drop the connection, not read that stray answer (another job's document) as the
  // answer to its next request on it.
  hostile_server server({.mode = hostile_mode::trailing_answer});
  temp_dir dir;
  std::string manifest;
  for (int i = 0; i < 4; ++i) manifest += jobname_line("job-" + std::to_string(i), "n");
  auto r = apply_to(server, dir, manifest, {"--connections", "1"});
  INFO(r.err);
  CHECK(r.run.code == 0);
  REQUIRE(r.records.size() == 4);
  for (auto& record : r.records) {
    CHECK(record["outcome"].as_string() == "ok");
    CHECK(record["attempts"].as_int64() == 1);
  }
  CHECK(server.applied().size() == 4);
}

TEST_CASE("hostile: a 204 to a PATCH is ok, unverified") {
  hostile_server server({.mode = hostile_mode::no_content});
  temp_dir dir;
  auto r = apply_to(server, dir, jobname_line("job-1", "a"));
  INFO(r.err);
  CHECK(r.run.code == 0);
  REQUIRE(r.records.size() == 1);
  CHECK(r.records[0]["outcome"].as_string() == "ok");
  CHECK(r.records[0]["status"].as_int64() == 204);
  CHECK(r.records[0]["verified"].as_bool() == false);
  CHECK(server.applied().size() == 1); // not sent again
}

TEST_CASE("hostile: a request read and closed unanswered on a kept-alive connection is in doubt") {
  // Line 1 warms the connection up; line 2 ("old") is read by the server, which closes
  // without answering and applies it 500 ms later; line 3 ("new") must land after that.
  hostile_server server({.mode = hostile_mode::late_apply});
  temp_dir dir;
  auto r = apply_to(server, dir,
                    jobname_line("job-warm", "w") + jobname_line("job-a", "old") +
                        jobname_line("job-a", "new"),
                    {"--connections", "1", "--settle", "3"});
  INFO(r.err);
  CHECK(r.run.code == 0);
  // The late copy lands 500 ms after the close, whenever jobpatch exits: a run that did
  // not wait for it (no in-doubt hold) has sent "new" already, and the copy lands after.
  // Read what was applied once it has landed, not the moment jobpatch exits.
  REQUIRE(server.wait_for_late_copy(10s));
  auto applied = server.applied();
  std::string order;
  for (const auto& entry : applied)
    if (entry.starts_with("job-a ")) order += entry.substr(6) + " ";
  INFO("applied to job-a: " << order);
  // Whatever copies of "old" arrive, none after "new".
  REQUIRE(order.ends_with(R"("new" )"));
  CHECK(order.find(R"("old")") != std::string::npos);
  REQUIRE(r.records.size() == 3);
  for (auto& record : r.records) CHECK(record["outcome"].as_string() == "ok");
}

// A server may close a kept-alive connection at any time, and some close every one after
// its first answer without saying "Connection: close". Each request sent on a reused
// connection is then taken and dropped unanswered: in doubt, retried after a backoff.
// After two in a row the connection stops being reused. Closed (FIN) or reset (RST), the
// request was written whole, so the server may have it: only a request the connection
// failed to write may be sent again inside the attempt; these are retried by the retry
// policy, as attempts of their own, after their backoff.
TEST_CASE("hostile: a server that drops or resets every connection after one answer gets one "
          "request per connection, never a request resent at once") {
  for (bool reset : {false, true}) {
    CAPTURE(reset);
    hostile_server server({.mode = hostile_mode::one_per_connection, .reset_unanswered = reset});
    temp_dir dir;
    std::string manifest;
    for (int i = 0; i < 30; ++i) manifest += jobname_line("job-" + std::to_string(i), "n");
    auto r = apply_to(server, dir, manifest, {"--connections", "1"});
    INFO(r.err);
    CHECK(r.run.code == 0);
    REQUIRE(r.records.size() == 30);
    for (auto& record : r.records) CHECK(record["outcome"].as_string() == "ok");
    CHECK(server.applied().size() == 30);
    auto summary = json::parse(read_file(dir.path("s.json"))).as_object();
    // Two requests dropped, then one request per connection: not one drop per line (59).
    CHECK(summary["attempts"].to_number<std::int64_t>() == 32);
  }
}

// Issue 24: a 101 Switching Protocols is no answer to a PATCH, and the connection now
// speaks another protocol: it is closed, never reused. The server may have applied the
// PATCH before switching, so the line is in doubt.
TEST_CASE("hostile: a 101 answer to a PATCH closes the connection and leaves the line in doubt") {
  hostile_server server({.mode = hostile_mode::switching_protocols});
  temp_dir dir;
  auto r = apply_to(server, dir, jobname_line("job-1", "a") + jobname_line("job-2", "b"),
                    {"--connections", "1", "--max-attempts", "2", "--settle", "0.2"});
  INFO(r.err);
  CHECK(r.run.code == 1);
  // Every attempt went over a connection of its own (one more for the token exchange),
  // none over a connection after its 101.
  CHECK(server.upgraded_reuses() == 0);
  CHECK(server.hostile_answers() == 4);
  CHECK(server.connections() == 1 + 4);
  REQUIRE(r.records.size() == 2);
  for (auto& record : r.records) {
    CHECK(record["outcome"].as_string() == "failed");
    CHECK(record["attempts"].as_int64() == 2);
    CHECK((record.contains("inDoubt") && record["inDoubt"].as_bool()));
    std::string error(record["error"].as_string());
    INFO(error);
    CHECK(error.find("HTTP 101") != std::string::npos);
  }
}

// Issue 24: a token is kept (and its forms by the scrubber) for as long as it is valid; one
// over 64 KiB is refused before it is stored, and the run, unable to authenticate, stops
// as it does when the key is refused.
TEST_CASE("hostile: a 1 MB access token is refused: exit 3, the limit named") {
  hostile_server server(
      {.mode = hostile_mode::ok,
       .token_body = R"({"token":")" + std::string(1 << 20, 't') + R"(","expiresIn":3600})"});
  temp_dir dir;
  auto r = apply_to(server, dir, jobname_line("job-1", "a"));
  INFO(r.err);
  MESSAGE("1 MB token: exit " << r.run.code << " after " << r.run.seconds << " s: " << r.err);
  CHECK(r.run.code == 3);
  CHECK(server.token_requests() == 1); // not retried: the next token would be as large
  CHECK(server.applied().empty());
  CHECK(r.err.find("access token of 1048576 bytes") != std::string::npos);
  CHECK(r.err.find("64 KiB") != std::string::npos);
  CHECK(read_file(dir.path("s.json")).find("64 KiB") != std::string::npos); // abortReason
}

TEST_CASE("hostile: an absurd token lifetime (expiresIn 1e10) takes one token exchange") {
  for (std::string expires : {"1e10", "\"10000000000\"", "1700000000000", "-5", "\"soon\"",
                              "\"99999999999999999999999\""}) {
    hostile_server server({.mode = hostile_mode::ok,
                           .token_body = R"({"token":"tok-#","expiresIn":)" + expires + "}"});
    temp_dir dir;
    std::string manifest;
    for (int i = 0; i < 20; ++i) manifest += jobname_line("job-" + std::to_string(i), "n");
    auto r = apply_to(server, dir, manifest, {"--connections", "4"});
    INFO("expiresIn " << expires << ": " << r.err);
    CHECK(r.run.code == 0);
    CHECK(server.token_requests() == 1);
    CHECK(server.applied().size() == 20);
  }
}

TEST_CASE("hostile: server text quoting the key or the token reaches no output") {
  SUBCASE("the token endpoint's 401 quotes the request, API key included") {
    hostile_server server({.mode = hostile_mode::ok, .token_statuses = {401}});
    temp_dir dir;
    auto r = apply_to(server, dir, jobname_line("job-1", "a"),
                      {"--failed-out", dir.path("failed.ndjson"), "--metrics-file",
                       dir.path("metrics.prom"), "--progress", "always"});
    INFO(r.err);
    CHECK(r.run.code == 3);
    std::string everything = r.err + read_file(dir.path("out")) + read_file(dir.path("s.json")) +
                             read_file(dir.path("metrics.prom")) + read_file(dir.path("r.ndjson")) +
                             read_file(dir.path("failed.ndjson"));
    CHECK(read_file(dir.path("s.json")).find("abortReason") != std::string::npos);
    CHECK(r.err.find("[redacted]") != std::string::npos); // the server's text did arrive
    CHECK(everything.find(api_key) == std::string::npos);
  }
  SUBCASE("a PATCH 403 quotes the request, Authorization header included") {
    hostile_server server({.mode = hostile_mode::echo_403,
                           .token_body = R"({"token":"tok-secret-#-7d3a","expiresIn":"3600"})"});
    temp_dir dir;
    auto r = apply_to(server, dir, jobname_line("job-1", "a") + jobname_line("job-2", "b"),
                      {"--failed-out", dir.path("failed.ndjson"), "--metrics-file",
                       dir.path("metrics.prom"), "--progress", "always"});
    INFO(r.err);
    CHECK(r.run.code == 1);
    REQUIRE(r.records.size() == 2);
    CHECK(std::string(r.records[0]["error"].as_string()).find("[redacted]") != std::string::npos);
    std::string everything = r.err + read_file(dir.path("out")) + read_file(dir.path("s.json")) +
                             read_file(dir.path("metrics.prom")) + read_file(dir.path("r.ndjson")) +
                             read_file(dir.path("failed.ndjson"));
    CHECK(everything.find("tok-secret-0-7d3a") == std::string::npos);
    CHECK(everything.find(api_key) == std::string::npos);
  }
}

TEST_CASE("hostile: a token endpoint outage during a refresh does not end a healthy run") {
  // The first token lives 3 s (refreshed from 2.4 s); the next six exchanges answer 503
  // with Retry-After: 1. Today's refresh gave up after 4 tries; the run must go on while
  // the token is valid, wait once it expired, and finish when the endpoint recovers.
  hostile_server server({.mode = hostile_mode::ok,
                         .token_statuses = {200, 503, 503, 503, 503, 503, 503},
                         .token_body = R"({"token":"tok-#-abcd","expiresIn":3})",
                         .token_retry_after = "1"});
  temp_dir dir;
  std::string manifest;
  for (int i = 0; i < 120; ++i) manifest += jobname_line("job-" + std::to_string(i), "n");
  auto r = apply_to(server, dir, manifest, {"--connections", "2", "--rate", "20"});
  INFO(r.err);
  CHECK(r.run.code == 0);
  CHECK(server.applied().size() == 120);
  auto times = server.token_request_times();
  REQUIRE(times.size() >= 8);
  // Retry-After honoured: the retries of the outage are at least ~1 s apart.
  for (std::size_t i = 2; i < 7; ++i) CHECK(times[i] - times[i - 1] >= 950ms);
}

TEST_CASE("hostile: the access token is refreshed before it expires, not after") {
  // A token of 6 s is refreshed from 4/5 of its life (4.8 s after its request left), while
  // it is still valid: sending goes on with it meanwhile. Refreshed only once expired, the
  // next request would come 6 s after the first at the earliest.
  hostile_server server(
      {.mode = hostile_mode::ok, .token_body = R"({"token":"tok-#","expiresIn":6})"});
  temp_dir dir;
  std::string manifest;
  for (int i = 0; i < 140; ++i) manifest += jobname_line("job-" + std::to_string(i), "n");
  auto r = apply_to(server, dir, manifest, {"--connections", "2", "--rate", "20"}); // 7 s
  INFO(r.err);
  CHECK(r.run.code == 0);
  CHECK(server.applied().size() == 140);
  auto times = server.token_request_times();
  REQUIRE(times.size() >= 2);
  auto refreshed_after = times[1] - times[0];
  INFO("refreshed after " << std::chrono::duration<double>(refreshed_after).count() << " s");
  CHECK(refreshed_after > 4s);
  CHECK(refreshed_after < 5400ms); // midway between 4.8 s and 6 s
}

TEST_CASE("hostile: a closed stderr changes neither the exit code nor the files") {
  hostile_server server({.mode = hostile_mode::ok});
  temp_dir dir;
  std::string manifest;
  for (int i = 0; i < 5; ++i) manifest += jobname_line("job-" + std::to_string(i), "n");
  write_file(dir.path("m.ndjson"), manifest);
  write_file(dir.path("cert.pem"), server.certificate_pem());
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  ::close(pipe_fds[0]); // the reader is gone, as after `| head -1`
  std::vector<std::string> argv = {JOBPATCH_BIN,
                                   "apply",
                                   dir.path("m.ndjson"),
                                   "--base-url",
                                   "https://localhost:" + std::to_string(server.port()),
                                   "--cacert",
                                   dir.path("cert.pem"),
                                   "--summary-json",
                                   dir.path("s.json"),
                                   "--metrics-file",
                                   dir.path("metrics.prom"),
                                   "--progress",
                                   "always"};
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setenv("BYTENITE_API_KEY", api_key.c_str(), 1);
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  int status = 0, code = -1;
  auto until = std::chrono::steady_clock::now() + slowed(60s);
  while (std::chrono::steady_clock::now() < until) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  if (code == -1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  note_sanitizer_exit(argv[0], pid, code, "");
  CHECK(code == 0);
  auto summary = json::parse(read_file(dir.path("s.json"))).as_object();
  CHECK(summary["exitCode"].as_int64() == 0);
  CHECK(summary["ok"].as_int64() == 5);
  CHECK(read_file(dir.path("metrics.prom")).find("jobpatch_exit_code 0") != std::string::npos);
}

namespace {
// A tmpfs of `size` mounted on a fresh directory for the test's life; unavailable (and
// the test skipped) when mount is not permitted here, or JOBPATCH_TEST_MISSING names
// "tmpfs" (tests/test_skip.hpp).
class small_tmpfs {
public:
  explicit small_tmpfs(const std::string& dir, const char* size) : dir_(dir) {
    ::mkdir(dir.c_str(), 0755);
    if (pretend_missing("tmpfs")) {
      error_ = "JOBPATCH_TEST_MISSING names tmpfs";
      return;
    }
    std::string options = std::string("size=") + size;
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~small_tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  // Writes a file until the tmpfs is full.
  void fill() const {
    int fd = ::open((dir_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string chunk(4096, 'x');
    while (fd >= 0 && ::write(fd, chunk.data(), chunk.size()) > 0) {}
    while (fd >= 0 && ::write(fd, chunk.data(), 1) > 0) {}
    if (fd >= 0) ::close(fd);
  }

private:
  std::string dir_, error_;
  bool mounted_ = false;
};
} // namespace

TEST_CASE("durability: a results file that fills up stops sending at once, exit 4") {
  temp_dir dir;
  small_tmpfs disk(dir.path("disk"), "512k");
  if (!disk.mounted()) {
    skip("cannot mount a tmpfs here (" + disk.error() + ")");
    return;
  }
  mock_process mock({}, 100);
  auto manifest = make_manifest(mock, "m.ndjson", 4000, 100, 5);
  std::string results = dir.path("disk") + "/r.ndjson";
  child_process run(
      jobpatch_argv(mock, "apply", manifest,
                    {"--connections", "4", "--rate", "200", "--results", results, "--summary-json",
                     dir.path("s.json"), "--failed-out", dir.path("disk") + "/f.ndjson"}),
      {{"BYTENITE_API_KEY", mock_test_key}}, dir.path("out"), dir.path("err"));
  // Once 100 outcomes are on file, the disk fills up under the running apply.
  auto until = std::chrono::steady_clock::now() + slowed(60s);
  while (read_lines(results).size() < 100 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  REQUIRE(read_lines(results).size() >= 100);
  disk.fill();
  int code = run.wait(60s);
  std::string err = read_file(dir.path("err"));
  INFO(err);
  CHECK(code == 4);
  CHECK(err.find(results) != std::string::npos);
  CHECK(err.find("No space left on device") != std::string::npos);
  auto summary = json::parse(read_file(dir.path("s.json"))).as_object();
  CHECK(summary["exitCode"].as_int64() == 4);
  // Issue 25: "the lines not sent are in f.ndjson" when it held 49 of 19,936.
  CHECK(err.find("the lines not sent are in") == std::string::npos);
  CHECK(err.find("f.ndjson is incomplete") != std::string::npos);

  // The file holds whole records, each line once.
  std::string text = read_file(results);
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  std::set<std::int64_t> lines;
  std::size_t ok = 0;
  for (const auto& line : read_lines(results)) {
    json::object record;
    REQUIRE_NOTHROW(record = json::parse(line).as_object());
    CHECK(lines.insert(record["line"].as_int64()).second);
    if (record["outcome"].as_string() == "ok") ++ok;
  }
  // Sending stopped at once: the server applied at most the updates in flight and those
  // recorded in the last 20 ms (plus scheduling slack) beyond what the file shows ok.
  mock.stop();
  std::size_t applied = read_lines(mock.journal()).size();
  MESSAGE("results on file: " << lines.size() << " (" << ok
                              << " ok); applied by the server: " << applied << " of 4000");
  CHECK(applied >= ok);
  CHECK(applied - ok <= 4 + 50);
  CHECK(applied < 4000);
}

TEST_CASE("memory: 300 lines of ~900 KB are held within the byte window") {
  // Answers take 200 ms, so the reader, were it unbounded, would read most of the 270 MB
  // long before the last answers (286 MB at peak): only the byte window holds it back.
  hostile_server server({.mode = hostile_mode::ok, .answer_delay = 200ms});
  temp_dir dir;
  {
    std::ofstream out(dir.path("m.ndjson"));
    std::string blob(900 * 1024, 'x');
    for (int i = 0; i < 300; ++i)
      out << R"({"jobId":"job-)" << i << R"(","op":"params","body":{"app":{"blob":")" << blob
          << "\"}}}\n";
  }
  write_file(dir.path("cert.pem"), server.certificate_pem());
  auto run = run_measured({JOBPATCH_BIN, "apply", dir.path("m.ndjson"), "--base-url",
                           "https://localhost:" + std::to_string(server.port()), "--cacert",
                           dir.path("cert.pem"), "--connections", "16"},
                          {{"BYTENITE_API_KEY", api_key}}, dir.path("out"), dir.path("err"), 120s);
  INFO(read_file(dir.path("err")));
  MESSAGE("300 lines of 900 KB: exit " << run.code << ", peak RSS " << run.peak_rss_kb / 1024
                                       << " MB, " << run.seconds << " s");
  CHECK(run.code == 0);
  CHECK(server.applied().size() == 300);
#if !defined(__SANITIZE_ADDRESS__) // ASan's quarantine and shadow say nothing of jobpatch
  CHECK(run.peak_rss_kb < 200 * 1024);
#endif
}

// Issue 24: a bidirectional override (U+202E) in a job's name would make a terminal show
// the plan's "before" and "after" swapped; plan shows it escaped, and its file keeps valid
// JSON holding the value itself. (Job ids: tests/unit/results/test_plan_record.cpp.)
TEST_CASE("hostile: plan shows bidirectional and invisible controls escaped, never raw") {
  hostile_server server({.mode = hostile_mode::stateful_ok});
  temp_dir dir;
  const std::string rlo = "\xE2\x80\xAE", zwsp = "\xE2\x80\x8B";
  // The job's name holds the override (set by an apply), the plan would set one with a
  // zero-width space.
  REQUIRE(apply_to(server, dir, jobname_line("job-1", "evil" + rlo + "name")).run.code == 0);
  write_file(dir.path("p.in"), jobname_line("job-1", "new" + zwsp + "name"));
  auto argv = jobpatch_argv(server.port(), dir.path("cert.pem"), "plan", dir.path("p.in"),
                            {"--output", dir.path("p.ndjson")});
  auto run =
      run_measured(argv, {{"BYTENITE_API_KEY", api_key}}, dir.path("out"), dir.path("err"), 60s);
  std::string shown = read_file(dir.path("out")) + read_file(dir.path("err"));
  INFO(shown);
  CHECK(run.code == 0);
  CHECK(shown.find(rlo) == std::string::npos);
  CHECK(shown.find(zwsp) == std::string::npos);
  CHECK(shown.find("evil\\u202ename") != std::string::npos);
  CHECK(shown.find("new\\u200bname") != std::string::npos);
  auto lines = read_lines(dir.path("p.ndjson"));
  REQUIRE(lines.size() == 1);
  std::string record = json::serialize(json::parse(lines[0]));
  CHECK(record.find("evil" + rlo + "name") != std::string::npos);
  CHECK(record.find("new" + zwsp + "name") != std::string::npos);
}
