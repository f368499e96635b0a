// Crash-safe resume: kill jobpatch anywhere, run it again with --resume, nothing lost.

#include "apply_runner.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <random>
#include <set>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

// Line i sets a value that names it, so a journal record tells which line it applied:
// odd lines rename their job "line-<i>", even lines set taskTimeout to i.
std::string write_numbered_manifest(const mock_process& mock, unsigned lines, unsigned jobs) {
  std::string text;
  for (unsigned i = 1; i <= lines; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "job-%07u", 1 + (i * 7919u) % jobs);
    text += R"({"jobId":")" + std::string(id) + "\",";
    text += i % 2 ? R"("op":"jobname","body":"line-)" + std::to_string(i) + "\"}\n"
                  : R"("op":"configs","body":{"taskTimeout":)" + std::to_string(i) + "}}\n";
  }
  std::string path = mock.path("manifest.ndjson");
  write_file(path, text);
  return path;
}

std::uint64_t line_of_journal_record(const std::string& record) {
  auto r = json::parse(record).as_object();
  const auto& body = r["body"];
  if (body.is_string()) return std::stoull(std::string(body.as_string()).substr(5));
  return body.as_object().at("taskTimeout").to_number<std::uint64_t>();
}

// Lines recorded ok in a results file, and how many ok records each has.
std::map<std::uint64_t, int> ok_lines(const std::string& results) {
  std::map<std::uint64_t, int> out;
  for (const auto& line : read_lines(results)) {
    json::value v;
    try {
      v = json::parse(line);
    } catch (...) {
      continue; // a torn record; resume cuts it off
    }
    if (v.as_object()["outcome"].as_string() == "ok")
      ++out[v.as_object()["line"].to_number<std::uint64_t>()];
  }
  return out;
}

child_process start_apply(const mock_process& mock, const std::string& manifest,
                          std::vector<std::string> extra) {
  extra.insert(extra.begin(), {"--results", mock.path("results.ndjson"), "--connections", "16"});
  return child_process(jobpatch_argv(mock, "apply", manifest, std::move(extra)),
                       {{"BYTENITE_API_KEY", mock_test_key}}, "", mock.path("apply.err"));
}

} // namespace

TEST_CASE("resume: kill -9 ten times at random moments, resume, nothing lost or re-sent") {
  mock_process mock({"--latency-ms", "5"}, 2000);
  const unsigned lines = 20000;
  auto manifest = write_numbered_manifest(mock, lines, 2000);
  std::mt19937 rng(20261129);
  std::vector<std::pair<std::set<std::uint64_t>, std::size_t>> kills; // ok lines, journal size
  std::size_t held = 0;
  for (int round = 0; round < 10; ++round) {
    auto run =
        start_apply(mock, manifest,
                    round == 0 ? std::vector<std::string>{} : std::vector<std::string>{"--resume"});
    // Each kill lands after a random number of new records (1 to 1,500), not after a sleep:
    // on a busy or instrumented machine a sleep may end before the first record or after
    // the last, and the kill would prove nothing. At most 15,000 of the 20,000 lines are
    // recorded before the last kill, so every kill interrupts a run in its middle.
    std::size_t target = held + 1 + rng() % 1500;
    held = wait_for_lines(mock.path("results.ndjson"), target, run, std::chrono::seconds(60));
    REQUIRE_MESSAGE(run.running(), "the run ended before " << target << " records");
    REQUIRE(held >= target);
    run.signal(SIGKILL);
    CHECK(run.wait(std::chrono::seconds(10)) == 128 + SIGKILL);
    std::set<std::uint64_t> recorded;
    for (auto& [line, n] : ok_lines(mock.path("results.ndjson"))) recorded.insert(line);
    // Whole records only: the next run cuts a torn last one off.
    auto text = read_file(mock.path("results.ndjson"));
    held = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    // The mock journals a PATCH before it answers, so every line recorded ok is in the
    // journal already; requests still in flight are for lines not recorded, which the
    // next run may send again.
    kills.emplace_back(std::move(recorded), read_lines(mock.journal()).size());
  }
  auto last = start_apply(mock, manifest, {"--resume", "--summary-json", mock.path("s.json")});
  CHECK(last.wait(std::chrono::seconds(120)) == 0);
  INFO(read_file(mock.path("apply.err")));

  auto ok = ok_lines(mock.path("results.ndjson"));
  CHECK(ok.size() == lines);
  std::size_t doubled = 0;
  for (auto& [line, n] : ok) doubled += n != 1;
  CHECK(doubled == 0);
  // Every kill landed mid-run (by construction above): the test means something.
  for (auto& kill : kills) CHECK((kill.first.size() > 0 && kill.first.size() < lines));

  mock.stop();
  auto journal = read_lines(mock.journal());
  // No line recorded ok before a kill was applied again after it.
  for (std::size_t k = 0; k < kills.size(); ++k) {
    const auto& [recorded, journal_size] = kills[k];
    std::size_t resent = 0;
    for (std::size_t j = journal_size; j < journal.size(); ++j)
      resent += recorded.count(line_of_journal_record(journal[j]));
    CHECK_MESSAGE(resent == 0, "after kill " << k);
  }
  // Final state: each job's last applied name / taskTimeout is the manifest's last one.
  std::map<std::string, std::uint64_t> last_name, last_timeout, want_name, want_timeout;
  for (const auto& record : journal) {
    auto r = json::parse(record).as_object();
    std::uint64_t line = line_of_journal_record(record);
    (r["op"].as_string() == "jobname" ? last_name
                                      : last_timeout)[std::string(r["jobId"].as_string())] = line;
  }
  for (const auto& text : read_lines(manifest)) {
    auto r = json::parse(text).as_object();
    auto line = r["op"].as_string() == "jobname"
                    ? std::stoull(std::string(r["body"].as_string()).substr(5))
                    : r["body"].as_object()["taskTimeout"].to_number<std::uint64_t>();
    (r["op"].as_string() == "jobname" ? want_name
                                      : want_timeout)[std::string(r["jobId"].as_string())] = line;
  }
  CHECK(last_name == want_name);
  CHECK(last_timeout == want_timeout);
}

TEST_CASE("resume: SIGTERM drains, exits 143 with results and summary, and resume completes") {
  mock_process mock({"--latency-ms", "5"}, 2000);
  auto manifest = write_numbered_manifest(mock, 20000, 2000);
  auto run = start_apply(mock, manifest, {"--summary-json", mock.path("s1.json")});
  // Mid-run by construction: after 500 of the 20,000 records, whatever the machine's speed.
  REQUIRE(wait_for_lines(mock.path("results.ndjson"), 500, run, std::chrono::seconds(60)) >= 500);
  REQUIRE(run.running());
  run.signal(SIGTERM);
  CHECK(run.wait(std::chrono::seconds(20)) == 143);
  auto first = json::parse(read_file(mock.path("s1.json"))).as_object();
  CHECK(first["interrupted"].as_bool());
  CHECK(first["exitCode"].as_int64() == 143);
  auto done = ok_lines(mock.path("results.ndjson")).size();
  CHECK(done == first["ok"].to_number<std::uint64_t>());
  CHECK(done > 0);
  CHECK(done < 20000);
  CHECK(read_file(mock.path("apply.err")).find("interrupted by signal 15") != std::string::npos);

  auto again = start_apply(mock, manifest, {"--resume", "--summary-json", mock.path("s2.json")});
  CHECK(again.wait(std::chrono::seconds(120)) == 0);
  auto second = json::parse(read_file(mock.path("s2.json"))).as_object();
  CHECK(second["skipped"].to_number<std::uint64_t>() == done);
  CHECK(second["ok"].to_number<std::uint64_t>() == 20000 - done);
  auto ok = ok_lines(mock.path("results.ndjson"));
  CHECK(ok.size() == 20000);
}

TEST_CASE("resume: torn last record, foreign lines and a different manifest each get a message") {
  mock_process mock({}, 100);
  std::string manifest = mock.path("m.ndjson");
  write_file(manifest, R"({"jobId":"job-0000001","op":"jobname","body":"a"})"
                       "\n"
                       R"({"jobId":"job-0000002","op":"jobname","body":"b"})"
                       "\n");
  std::string results = mock.path("results.ndjson");
  // Line 1 was recorded ok for different content (another manifest); then junk; then a
  // record cut short by a crash.
  write_file(
      results,
      R"({"line":1,"jobId":"job-0000001","op":"jobname","outcome":"ok","fp":"0123456789abcdef"})"
      "\n"
      "some foreign text\n"
      R"({"line":2,"jobId":"job-0000002","op":"jobn)");
  int code = run_apply(mock, manifest, {"--resume", "--results", results});
  std::string err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(code == 0);
  CHECK(err.find("torn last record") != std::string::npos);
  CHECK(err.find("ignored 1 lines that are not jobpatch result records") != std::string::npos);
  CHECK(err.find("1 lines recorded ok by an earlier run had changed") != std::string::npos);
  // Both lines were applied, and the file holds whole records only.
  auto ok = ok_lines(results);
  CHECK(ok.size() == 2);
  for (const auto& line : read_lines(results))
    if (line != "some foreign text") CHECK_NOTHROW(json::parse(line));
  // Without --resume an existing results file is never overwritten.
  CHECK(run_apply(mock, manifest, {"--results", results}) == 2);
  CHECK(read_file(mock.path("apply.err")).find("already holds results") != std::string::npos);
}
