// A running apply an operator can steer (issue 27): `--control SOCKET` and `jobpatch control`
// (pause, resume, rate, connections, status), and `--connections auto` against the mock's
// capacity model. Verdicts wait for events (records written, a status saying so); the only
// timed checks are upper bounds (requests after a pause, records per second after a rate
// change), which a slow machine can only make easier to meet.

#include "apply_runner.hpp"
#include "last_words.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

struct control_reply {
  int code = -1;
  std::string out, err;
};

// `jobpatch control SOCKET words...`: its exit code and what it printed.
control_reply control(const mock_process& mock, const std::string& socket,
                      std::vector<std::string> words) {
  static int calls = 0;
  std::string out = mock.path("control." + std::to_string(++calls) + ".out");
  std::string err = out + ".err";
  std::vector<std::string> argv = {JOBPATCH_BIN, "control", socket};
  argv.insert(argv.end(), words.begin(), words.end());
  child_process run(argv, {}, out, err);
  control_reply reply;
  reply.code = run.wait(30s);
  reply.out = read_file(out);
  reply.err = read_file(err);
  return reply;
}

json::object status_of(const mock_process& mock, const std::string& socket) {
  auto reply = control(mock, socket, {"status"});
  INFO(reply.out, reply.err);
  REQUIRE(reply.code == 0);
  return json::parse(reply.out).as_object();
}

// Polls the status until `done(status)` holds (or the hang guard ends the test).
template <class Predicate>
json::object wait_for_status(const mock_process& mock, const std::string& socket, Predicate done) {
  auto give_up = std::chrono::steady_clock::now() + slowed(30s);
  for (;;) {
    auto status = status_of(mock, socket);
    if (done(status)) return status;
    REQUIRE(std::chrono::steady_clock::now() < give_up);
    std::this_thread::sleep_for(20ms);
  }
}

std::size_t lines_in(const std::string& path) {
  std::string text = read_file(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Every line of the manifest (`lines` of them) has exactly one record, ok.
void check_every_line_ok_once(const std::string& results, std::size_t lines) {
  std::ifstream in(results);
  std::set<std::uint64_t> seen;
  std::size_t records = 0;
  for (std::string line; std::getline(in, line);) {
    auto record = json::parse(line).as_object();
    ++records;
    CHECK(std::string(record.at("outcome").as_string()) == "ok");
    seen.insert(record.at("line").to_number<std::uint64_t>());
  }
  CHECK(records == lines);
  CHECK(seen.size() == lines);
}

child_process start_apply(const mock_process& mock, const std::string& manifest,
                          std::vector<std::string> extra, const std::string& err = "apply.err") {
  std::vector<std::string> args = {"--results",         mock.path("r.ndjson"), "--summary-json",
                                   mock.path("s.json"), "--progress",          "never"};
  args.insert(args.end(), extra.begin(), extra.end());
  return child_process(jobpatch_argv(mock, "apply", manifest, std::move(args)),
                       {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path(err));
}

std::vector<std::string> changes_in(const json::object& summary) {
  std::vector<std::string> out;
  if (auto* changes = summary.if_contains("controlChanges"))
    for (const auto& c : changes->as_array())
      out.emplace_back(c.as_object().at("change").as_string());
  return out;
}

// The most requests the mock's capacity model held at once (served and waiting).
std::uint64_t peak_at_server(const mock_process& mock) {
  auto capacity = mock.stats().as_object().at("capacity").as_object();
  return capacity.at("peakInService").to_number<std::uint64_t>() +
         capacity.at("peakQueued").to_number<std::uint64_t>();
}

} // namespace

TEST_CASE("live control: pause starts no request, resume finishes every line ok exactly once") {
  mock_process mock({"--latency-ms", "5"}, 200);
  const unsigned lines = 3000;
  auto manifest = make_manifest(mock, "m.ndjson", lines, 200);
  std::string socket = mock.path("control.sock");
  auto run = start_apply(mock, manifest, {"--connections", "8", "--control", socket});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 100, run, 60s) >= 100);
  REQUIRE(run.running());

  // Created 0600 while it listens.
  struct stat st {};
  REQUIRE(::stat(socket.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  auto paused = control(mock, socket, {"pause"});
  INFO(paused.out, paused.err);
  REQUIRE(paused.code == 0);
  CHECK(json::parse(paused.out).as_object().at("ok").as_bool());
  // From the reply on, no request starts: at most the 8 already in flight are applied.
  std::size_t at_pause = mock.journal_records().size();
  auto drained = wait_for_status(mock, socket, [](const json::object& s) {
    return s.at("inFlight").to_number<std::uint64_t>() == 0;
  });
  CHECK(drained.at("paused").as_bool());
  CHECK(drained.at("lines").to_number<std::uint64_t>() == lines);
  std::size_t drained_journal = mock.journal_records().size();
  CHECK(drained_journal <= at_pause + 8);
  std::this_thread::sleep_for(1s); // nothing may happen: a slow machine cannot fake a request
  CHECK(mock.journal_records().size() == drained_journal);
  CHECK(status_of(mock, socket).at("done").to_number<std::uint64_t>() < lines);

  auto resumed = control(mock, socket, {"resume"});
  INFO(resumed.out, resumed.err);
  REQUIRE(resumed.code == 0);
  REQUIRE(run.wait(120s) == 0);
  check_every_line_ok_once(mock.path("r.ndjson"), lines);
  CHECK(check_applied_in_order(manifest, mock.journal()) == "");
  CHECK(mock.journal_records().size() == lines); // each applied once
  auto summary = summary_of(mock.path("s.json"));
  CHECK(changes_in(summary) == std::vector<std::string>{"pause", "resume"});
  std::string err = read_file(mock.path("apply.err"));
  CHECK(err.find("jobpatch: control: pause") != std::string::npos);
  CHECK(err.find("jobpatch: control: resume") != std::string::npos);
  // Removed at exit; nothing listens any more.
  CHECK(::stat(socket.c_str(), &st) != 0);
  CHECK(control(mock, socket, {"status"}).code == 3);
}

TEST_CASE("live control: rate R holds the run to R within 2 s, rate none lifts it") {
  mock_process mock({}, 200);
  const unsigned lines = 4000;
  auto manifest = make_manifest(mock, "m.ndjson", lines, 200);
  std::string socket = mock.path("control.sock");
  auto run =
      start_apply(mock, manifest, {"--connections", "4", "--rate", "2000", "--control", socket});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 100, run, 60s) >= 100);
  REQUIRE(run.running());
  auto slowed_down = control(mock, socket, {"rate", "25"});
  INFO(slowed_down.out, slowed_down.err);
  REQUIRE(slowed_down.code == 0);
  auto limited = status_of(mock, socket);
  CHECK(limited.at("rate").to_number<double>() == doctest::Approx(25));
  CHECK(limited.at("effectiveRate").to_number<double>() == doctest::Approx(25)); // no 429s
  // Within 2 s the new rate holds: over the next second at most 25 requests and the burst
  // (2) start, plus the 4 in flight and a hand-over of records (20 ms) at either end.
  std::this_thread::sleep_for(2s);
  auto t1 = std::chrono::steady_clock::now();
  std::size_t c1 = lines_in(mock.path("r.ndjson"));
  std::this_thread::sleep_for(1s);
  auto t2 = std::chrono::steady_clock::now();
  std::size_t c2 = lines_in(mock.path("r.ndjson"));
  double seconds = std::chrono::duration<double>(t2 - t1).count();
  CHECK(static_cast<double>(c2 - c1) <= 25 * seconds + 2 + 4 + 2);
  CHECK(c2 < lines);

  auto lifted = control(mock, socket, {"rate", "none"});
  REQUIRE(lifted.code == 0);
  auto unlimited = status_of(mock, socket);
  CHECK(unlimited.at("rate").is_null());
  CHECK(unlimited.at("effectiveRate").is_null());
  REQUIRE(run.wait(120s) == 0);
  check_every_line_ok_once(mock.path("r.ndjson"), lines);
  CHECK(changes_in(summary_of(mock.path("s.json"))) ==
        std::vector<std::string>{"rate 25", "rate none"});
}

TEST_CASE(
    "live control: connections N, then auto, and the summary lists both and the limit's range") {
  // Room for 100 at once, each held 5 ms: the server's peak is the client's concurrency.
  mock_process mock({"--capacity", "100", "--service-ms", "5"}, 200);
  const unsigned lines = 6000;
  auto manifest = make_manifest(mock, "m.ndjson", lines, 200);
  std::string socket = mock.path("control.sock");
  auto run = start_apply(mock, manifest, {"--connections", "2", "--control", socket});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 100, run, 60s) >= 100);
  REQUIRE(run.running());
  CHECK(status_of(mock, socket).at("connections").to_number<unsigned>() == 2);
  CHECK(peak_at_server(mock) <= 2);
  REQUIRE(control(mock, socket, {"connections", "6"}).code == 0);
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 400, run, 60s) >= 400);
  CHECK(peak_at_server(mock) >= 3); // more workers started
  CHECK(peak_at_server(mock) <= 6);
  auto six = status_of(mock, socket);
  CHECK(six.at("connections").to_number<unsigned>() == 6);
  CHECK(std::string(six.at("connectionsMode").as_string()) == "fixed");
  // Lowered below the workers started: the idle ones take nothing. Once those in flight at
  // the change have ended, the server never holds more than 2 at once.
  REQUIRE(control(mock, socket, {"connections", "2"}).code == 0);
  std::size_t now = lines_in(mock.path("r.ndjson"));
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), now + 100, run, 60s) >= now + 100);
  std::uint64_t most = 0;
  for (int i = 0; i < 40 && run.running(); ++i) {
    auto capacity = mock.stats().as_object().at("capacity").as_object();
    most = std::max(most, capacity.at("inService").to_number<std::uint64_t>() +
                              capacity.at("queued").to_number<std::uint64_t>());
  }
  CHECK(most <= 2);
  CHECK(most >= 1);
  REQUIRE(control(mock, socket, {"connections", "auto"}).code == 0);
  CHECK(std::string(status_of(mock, socket).at("connectionsMode").as_string()) == "auto");
  // A bad command is refused by the client (exit 2) and changes nothing.
  CHECK(control(mock, socket, {"connections", "0"}).code == 2);
  CHECK(control(mock, socket, {"speed", "up"}).code == 2);
  REQUIRE(run.wait(120s) == 0);
  check_every_line_ok_once(mock.path("r.ndjson"), lines);
  CHECK(check_applied_in_order(manifest, mock.journal()) == "");
  auto summary = summary_of(mock.path("s.json"));
  CHECK(changes_in(summary) ==
        std::vector<std::string>{"connections 6", "connections 2", "connections auto"});
  auto concurrency = summary.at("concurrency").as_object();
  CHECK(std::string(concurrency.at("mode").as_string()) == "auto");
  CHECK(concurrency.at("min").to_number<unsigned>() <= 2);
  CHECK(concurrency.at("max").to_number<unsigned>() >= 6);
  auto series = concurrency.at("series").as_array();
  REQUIRE(series.size() >= 2);
  CHECK(series.front().as_array().at(1).to_number<unsigned>() == 2);
}

TEST_CASE("live control: a paused run still stops on SIGINT with its summary, socket removed") {
  mock_process mock({"--latency-ms", "5"}, 200);
  const unsigned lines = 2000;
  auto manifest = make_manifest(mock, "m.ndjson", lines, 200);
  std::string socket = mock.path("control.sock");
  auto run = start_apply(mock, manifest, {"--connections", "4", "--control", socket});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 50, run, 60s) >= 50);
  REQUIRE(run.running());
  REQUIRE(control(mock, socket, {"pause"}).code == 0);
  wait_for_status(mock, socket, [](const json::object& s) {
    return s.at("inFlight").to_number<std::uint64_t>() == 0;
  });
  run.signal(SIGINT);
  REQUIRE(run.wait(60s) == 130);
  auto summary = summary_of(mock.path("s.json"));
  CHECK(summary.at("exitCode").to_number<int>() == 130);
  CHECK(summary.at("failed").to_number<std::uint64_t>() == 0); // nothing was cut
  CHECK(summary.at("notAttempted").to_number<std::uint64_t>() +
            summary.at("ok").to_number<std::uint64_t>() ==
        lines);
  struct stat st {};
  CHECK(::stat(socket.c_str(), &st) != 0);
}

TEST_CASE("live control: --control where it cannot listen is refused before sending") {
  mock_process mock({"--latency-ms", "5"}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 10);
  // A directory that does not exist.
  CHECK(run_apply(mock, manifest, {"--control", mock.path("no/such/dir/c.sock")}) == 2);
  // Another output's path, under any name: refused before either file is made.
  CHECK(run_apply(mock, manifest,
                  {"--results", mock.path("o.ndjson"), "--control", mock.path("./o.ndjson")}) == 2);
  CHECK(run_apply(mock, manifest,
                  {"--summary-json", mock.path("o.json"), "--control", mock.path("o.json")}) == 2);
  CHECK(read_file(mock.path("apply.err")).find("every output needs a file of its own") !=
        std::string::npos);
  CHECK(mock.journal_records().empty());
  // A socket another run listens on.
  std::string socket = mock.path("control.sock");
  auto big = make_manifest(mock, "big.ndjson", 2000, 20);
  auto first = start_apply(mock, big, {"--connections", "1", "--control", socket}, "first.err");
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 1, first, 60s) >= 1);
  REQUIRE(control(mock, socket, {"pause"}).code == 0);
  CHECK(run_apply(mock, manifest, {"--control", socket, "--results", mock.path("r2.ndjson")}) == 2);
  std::string err = read_file(mock.path("apply.err"));
  CHECK(err.find("--control") != std::string::npos);
  CHECK(mock.journal_records().size() < 2000); // the second run sent nothing either
  first.signal(SIGTERM);
  CHECK(first.wait(60s) == 143);
}

TEST_CASE("auto: against the capacity model every line ends ok, in order, from a slow start") {
  mock_process mock({"--capacity", "4", "--service-ms", "10", "--queue", "16"}, 500);
  const unsigned lines = 2000;
  auto manifest = make_manifest(mock, "m.ndjson", lines, 500);
  REQUIRE(run_apply(mock, manifest,
                    {"--connections", "auto", "--results", mock.path("r.ndjson"), "--summary-json",
                     mock.path("s.json"), "--progress", "never"}) == 0);
  check_every_line_ok_once(mock.path("r.ndjson"), lines);
  CHECK(check_applied_in_order(manifest, mock.journal()) == "");
  auto concurrency = summary_of(mock.path("s.json")).at("concurrency").as_object();
  CHECK(std::string(concurrency.at("mode").as_string()) == "auto");
  auto series = concurrency.at("series").as_array();
  REQUIRE_FALSE(series.empty());
  CHECK(series.front().as_array().at(1).to_number<unsigned>() <= 4); // a slow start
  CHECK(concurrency.at("max").to_number<unsigned>() <= 64);
  CHECK(concurrency.at("min").to_number<unsigned>() >= 1);
}

TEST_CASE("auto: MAX bounds the requests in flight, and a fixed N holds at the server") {
  // The server keeps up with any concurrency (100 at once, 5 ms each): auto climbs to MAX.
  mock_process mock({"--capacity", "100", "--service-ms", "5"}, 200);
  auto manifest = make_manifest(mock, "m.ndjson", 1500, 200);
  REQUIRE(run_apply(mock, manifest,
                    {"--connections", "auto:3", "--summary-json", mock.path("s.json")}) == 0);
  CHECK(peak_at_server(mock) <= 3);
  CHECK(peak_at_server(mock) >= 2); // workers started as the limit grew
  auto concurrency = summary_of(mock.path("s.json")).at("concurrency").as_object();
  CHECK(concurrency.at("max").to_number<unsigned>() == 3); // latency never grew: up to MAX

  mock_process fixed({"--capacity", "100", "--service-ms", "5"}, 200);
  auto other = make_manifest(fixed, "m.ndjson", 1500, 200);
  REQUIRE(run_apply(fixed, other, {"--connections", "3"}) == 0);
  CHECK(peak_at_server(fixed) <= 3);
  CHECK(peak_at_server(fixed) >= 2);
}

TEST_CASE("live control: a pause holds the requests waiting for their turn under --rate") {
  // At 5/s with 4 connections, three workers wait for the limiter's token at any moment:
  // paused, none of them may send it.
  mock_process mock({}, 50);
  const unsigned lines = 60;
  auto manifest = make_manifest(mock, "m.ndjson", lines, 50);
  std::string socket = mock.path("control.sock");
  auto run = start_apply(
      mock, manifest, {"--connections", "4", "--rate", "5", "--burst", "1", "--control", socket});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 3, run, 60s) >= 3);
  REQUIRE(control(mock, socket, {"pause"}).code == 0);
  std::size_t at_pause = mock.journal_records().size();
  std::this_thread::sleep_for(1500ms); // three tokens would have come due meanwhile
  CHECK(mock.journal_records().size() <= at_pause + 1); // one at most was already sent
  CHECK(status_of(mock, socket).at("paused").as_bool());
  REQUIRE(control(mock, socket, {"rate", "none"}).code == 0);
  REQUIRE(control(mock, socket, {"resume"}).code == 0);
  REQUIRE(run.wait(60s) == 0);
  check_every_line_ok_once(mock.path("r.ndjson"), lines);
  CHECK(check_applied_in_order(manifest, mock.journal()) == "");
}

TEST_CASE("live control: connections beyond the open-file limit is refused, the run goes on") {
  mock_process mock({"--latency-ms", "5"}, 200);
  const unsigned lines = 1000;
  auto manifest = make_manifest(mock, "m.ndjson", lines, 200);
  std::string socket = mock.path("control.sock");
  std::vector<std::string> argv = {"/usr/bin/prlimit", "--nofile=80:80"};
  auto apply = jobpatch_argv(mock, "apply", manifest,
                             {"--results", mock.path("r.ndjson"), "--progress", "never",
                              "--connections", "2", "--control", socket});
  argv.insert(argv.end(), apply.begin(), apply.end());
  child_process run(argv, {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path("apply.err"));
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 20, run, 60s) >= 20);
  REQUIRE(run.running());
  auto refused = control(mock, socket, {"connections", "60"}); // 80 - 32 of the run's own: 48
  CHECK(refused.code == 2);
  CHECK(refused.out.find("ulimit -n") != std::string::npos);
  CHECK(status_of(mock, socket).at("connections").to_number<unsigned>() == 2);
  CHECK(control(mock, socket, {"connections", "40"}).code == 0);
  REQUIRE(run.wait(120s) == 0);
  check_every_line_ok_once(mock.path("r.ndjson"), lines);
}

// Between the engine's end and the summary, SIGINT and SIGTERM are ignored: a Ctrl-C there
// (Asio gives the default action back as its signal_set goes) would kill a finished run
// before its summary. The test hook holds the run in that window.
TEST_CASE("live control: a signal after the engine has ended leaves the summary to be written") {
  mock_process mock({}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 20, 20);
  std::string hold = mock.path("hold");
  child_process run(
      jobpatch_argv(mock, "apply", manifest,
                    {"--results", mock.path("r.ndjson"), "--summary-json", mock.path("s.json"),
                     "--progress", "never", "--control", mock.path("control.sock")}),
      {{"BYTENITE_API_KEY", mock_test_key}, {"JOBPATCH_TEST_HOLD_AFTER_ENGINE", hold}}, "",
      mock.path("apply.err"));
  REQUIRE(wait_for_file(hold + ".held", 60s));
  run.signal(SIGINT);
  run.signal(SIGTERM);
  std::ofstream(hold).close();
  REQUIRE(run.wait(60s) == 0);
  INFO(read_file(mock.path("apply.err")));
  CHECK(summary_of(mock.path("s.json")).at("exitCode").to_number<int>() == 0);
  std::string records = read_file(mock.path("r.ndjson"));
  CHECK(std::count(records.begin(), records.end(), '\n') == 20);
}

TEST_CASE("live control: two signals at a paused run end it with its summary, socket removed") {
  mock_process mock({"--latency-ms", "5"}, 200);
  auto manifest = make_manifest(mock, "m.ndjson", 2000, 200);
  std::string socket = mock.path("control.sock");
  auto run = start_apply(mock, manifest, {"--connections", "4", "--control", socket});
  REQUIRE(wait_for_lines(mock.path("r.ndjson"), 50, run, 60s) >= 50);
  REQUIRE(control(mock, socket, {"pause"}).code == 0); // the first signal's grace never ends
  run.signal(SIGINT);
  REQUIRE(wait_signal_taken(run.pid(), SIGINT, 10s));
  run.signal(SIGINT);
  REQUIRE(run.wait(60s) == 130);
  INFO(read_file(mock.path("apply.err")));
  CHECK(summary_of(mock.path("s.json")).at("exitCode").to_number<int>() == 130);
  struct stat st {};
  CHECK(::stat(socket.c_str(), &st) != 0);
}
