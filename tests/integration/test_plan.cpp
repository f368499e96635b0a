// Read the job before writing it: `plan`, `apply --undo-out` and `apply --skip-unchanged`
// against the mock, whose journal holds every PATCH it applied (and never a GET).

#include "apply_runner.hpp"
#include "fault_proxy.hpp"
#include "last_words.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <set>

#include <sys/stat.h>

using namespace jobpatch::test;
namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// Runs `jobpatch COMMAND args` against `mock`; stdout and stderr in mock.path(COMMAND +
// ".out" / ".err").
int run_jobpatch(const mock_process& mock, const std::string& command,
                 std::vector<std::string> args) {
  std::vector<std::string> argv = {JOBPATCH_BIN, command,
                                   "--base-url", "https://localhost:" + std::to_string(mock.port()),
                                   "--cacert",   mock.cert()};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process run(argv, {{"BYTENITE_API_KEY", mock_test_key}}, mock.path(command + ".out"),
                    mock.path(command + ".err"));
  return run.wait(60s);
}

// `args` and a summary JSON, metrics file and no progress line, in `mock`'s directory (where
// last_words.hpp's check_last_words reads them).
std::vector<std::string> instrumented(const mock_process& mock, std::vector<std::string> args) {
  args.insert(args.end(), {"--summary-json", mock.path("s.json"), "--metrics-file",
                           mock.path("m.prom"), "--progress", "never"});
  return args;
}

// The records of an NDJSON file by their "line".
std::map<std::uint64_t, json::object> by_line(const std::string& path) {
  std::map<std::uint64_t, json::object> out;
  for (const auto& text : read_lines(path)) {
    auto record = json::parse(text).as_object();
    out[record.at("line").to_number<std::uint64_t>()] = record;
  }
  return out;
}

std::string line_of(const std::string& job, const std::string& op, const std::string& body) {
  return R"({"jobId":")" + job + R"(","op":")" + op + R"(","body":)" + body + "}\n";
}

// Every job's document (GET), by id.
std::map<std::string, json::value> documents(const mock_process& mock, unsigned jobs) {
  std::string token = mock.token();
  std::map<std::string, json::value> out;
  for (unsigned i = 1; i <= jobs; ++i) {
    std::string id = "job-000000" + std::to_string(i);
    out[id] = mock.job(id, token);
  }
  return out;
}

} // namespace

TEST_CASE("plan: shows exactly the fields that change, and changes nothing") {
  mock_process mock({}, 5);
  // The mock's jobs start with taskTimeout 3600, jobTimeout 86400, preset "" and app {}.
  std::string manifest =
      line_of("job-0000001", "configs", R"({"taskTimeout":600})") +
      line_of("job-0000002", "configs", R"({"taskTimeout":3600,"jobTimeout":"86400"})") +
      line_of("job-0000009", "configs", R"({"taskTimeout":600})") +
      line_of("job-0000001", "configs", R"({"taskTimeout":900,"isTestJob":false})") +
      line_of("job-0000003", "params", R"({"preset":"","app":{}})") +
      line_of("job-0000004", "jobname", R"("renamed")") +
      "{\"jobId\":\"job-0000005\",\"op\":\"configs\",\"body\":{\"taskTimout\":1}}\n";
  write_file(mock.path("m.ndjson"), manifest);
  CHECK(run_jobpatch(mock, "plan",
                     {mock.path("m.ndjson"), "--output", mock.path("plan.ndjson"), "--connections",
                      "4"}) == 1); // a job was not found
  std::string err = read_file(mock.path("plan.err")), out = read_file(mock.path("plan.out"));
  INFO(err);
  INFO(out);

  auto plan = by_line(mock.path("plan.ndjson"));
  REQUIRE(plan.size() == 7);
  auto changes = [&](std::uint64_t line) { return json::serialize(plan[line].at("changes")); };
  CHECK(plan[1].at("outcome") == "change");
  CHECK(changes(1) == R"([{"field":"configs.taskTimeout","from":3600,"to":600}])");
  CHECK(plan[2].at("outcome") == "unchanged"); // "86400" is 86400
  CHECK(changes(2) == "[]");
  CHECK(plan[3].at("outcome") == "not_found");
  CHECK(plan[3].at("status") == 404);
  // A job's second line is compared with what its first would have set.
  CHECK(plan[4].at("outcome") == "change");
  CHECK(changes(4) == R"([{"field":"configs.taskTimeout","from":600,"to":900}])");
  CHECK(plan[5].at("outcome") == "unchanged");
  CHECK(changes(6) == R"([{"field":"jobname","from":"mock job job-0000004","to":"renamed"}])");
  CHECK(plan[7].at("outcome") == "invalid");

  CHECK(out.find("line 1 job-0000001 configs.taskTimeout: 3600 → 600\n") != std::string::npos);
  CHECK(out.find("line 4 job-0000001 configs.taskTimeout: 600 → 900\n") != std::string::npos);
  CHECK(out.find("line 3 job-0000009 job not found") != std::string::npos);
  CHECK(out.find("isTestJob") == std::string::npos); // false already: not shown
  CHECK(err.find("7 lines: 3 change something (3 fields), 2 unchanged, 1 jobs not found, 0 "
                 "failed reads, 1 invalid") != std::string::npos);

  // Nothing was written to any job: the journal of applied PATCHes is empty.
  CHECK(mock.journal_records().empty());
  CHECK(mock.stats().at("requests").at("configs").as_object().empty());

  // Every line planned: exit 0.
  write_file(mock.path("ok.ndjson"), line_of("job-0000001", "configs", R"({"taskTimeout":600})"));
  CHECK(run_jobpatch(mock, "plan", {mock.path("ok.ndjson")}) == 0);
}

TEST_CASE("plan and --skip-unchanged when reads fail too: a read is retried like a PATCH") {
  constexpr unsigned jobs = 30;
  mock_process mock({"--fail-500", "0.25", "--drop", "0.1", "--fault-reads", "--seed", "11"}, jobs);
  std::string manifest;
  for (unsigned i = 1; i <= jobs; ++i)
    manifest += line_of(i < 10 ? "job-000000" + std::to_string(i) : "job-00000" + std::to_string(i),
                        "configs", "{\"taskTimeout\":" + std::to_string(100 + i % 3) + "}");
  write_file(mock.path("m.ndjson"), manifest);
  const std::vector<std::string> patient = {"--connections", "4", "--max-attempts", "40"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), patient.begin(), patient.end());
    return args;
  };

  CHECK(run_jobpatch(mock, "plan",
                     with({mock.path("m.ndjson"), "--output", mock.path("p.ndjson")})) == 0);
  INFO(read_file(mock.path("plan.err")));
  auto plan = by_line(mock.path("p.ndjson"));
  CHECK(plan.size() == jobs);
  for (const auto& [line, record] : plan) CHECK(record.at("outcome") == "change");
  CHECK(mock.journal_records().empty());
  auto faults = mock.stats().at("faults").as_object();
  CHECK(faults.at("fail500").as_int64() > 0);        // reads refused, and read again
  CHECK(faults.at("dropNotApplied").as_int64() > 0); // reads left unanswered, and read again

  CHECK(run_apply(mock, mock.path("m.ndjson"),
                  with({"--skip-unchanged", "--results", mock.path("r1.ndjson")})) == 0);
  std::size_t patches = mock.journal_records().size();
  CHECK(patches >= jobs); // a PATCH whose answer was dropped after it applied is sent again
  CHECK(run_apply(mock, mock.path("m.ndjson"),
                  with({"--skip-unchanged", "--results", mock.path("r2.ndjson")})) == 0);
  CHECK(mock.journal_records().size() == patches);
  for (const auto& [line, record] : by_line(mock.path("r2.ndjson")))
    CHECK(record.at("outcome") == "unchanged");
}

TEST_CASE("apply --undo-out: applying the undo file puts every job back") {
  constexpr unsigned jobs = 5;
  mock_process mock({}, jobs);
  auto before = documents(mock, jobs);
  std::string manifest =
      line_of("job-0000001", "configs", R"({"taskTimeout":600,"isTestJob":true})") +
      line_of("job-0000002", "jobname", R"("renamed")") +
      line_of(
          "job-0000003", "datasource",
          R"({"dataSource":{"dataSourceDescriptor":"gcp","params":{"bucket":"b","key":"secret"}}})") +
      line_of("job-0000004", "params", R"({"preset":"fast","app":{"steps":30}})") +
      line_of("job-0000001", "configs", R"({"taskTimeout":900,"jobTimeout":7200})") +
      line_of("job-0000009", "configs", R"({"taskTimeout":600})") + // 404: nothing to undo
      // Valid for jobpatch, refused by the server (400): nothing to undo either.
      line_of("job-0000005", "datasource", R"({"dataDestination":{"dataSourceDescriptor":"ftp"}})");
  write_file(mock.path("m.ndjson"), manifest);
  CHECK(run_apply(mock, mock.path("m.ndjson"),
                  {"--undo-out", mock.path("undo.ndjson"), "--results", mock.path("r.ndjson"),
                   "--connections", "4"}) == 1);
  INFO(read_file(mock.path("apply.err")));
  auto results = by_line(mock.path("r.ndjson"));
  CHECK(results[6].at("outcome") == "failed");
  CHECK(results[7].at("status") == 400);

  struct stat st {};
  REQUIRE(::stat(mock.path("undo.ndjson").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto undo = read_lines(mock.path("undo.ndjson"));
  INFO(read_file(mock.path("undo.ndjson")));
  // Written ahead of each PATCH: the five applied lines and the one the server refused
  // (restoring values the job still holds changes nothing); none for the job whose read
  // found nothing (404).
  CHECK(undo.size() == 6);
  for (const auto& line : undo) CHECK(line.find("job-0000009") == std::string::npos);
  CHECK(std::count_if(undo.begin(), undo.end(), [](const std::string& line) {
          return line.find("job-0000005") != std::string::npos;
        }) == 1);
  // The job's second line restores only what its first did not: jobTimeout.
  CHECK(std::count(undo.begin(), undo.end(),
                   R"({"jobId":"job-0000001","op":"configs","body":{"jobTimeout":86400}})") == 1);
  CHECK(documents(mock, jobs) != before);

  std::size_t patches = mock.journal_records().size();
  CHECK(run_apply(mock, mock.path("undo.ndjson"), {"--connections", "4"}) == 0);
  CHECK(mock.journal_records().size() == patches + undo.size());
  CHECK(documents(mock, jobs) == before);
}

TEST_CASE("apply --undo-out: a run refused before sending leaves no readable undo file") {
  mock_process mock({}, 1);
  // An invalid line: exit 2 and nothing sent, after the outputs were checked writable
  // (which creates them): the undo file must be private from its first moment.
  write_file(mock.path("m.ndjson"), line_of("job-0000001", "jobname", R"({"name":"x"})"));
  CHECK(run_apply(mock, mock.path("m.ndjson"), {"--undo-out", mock.path("undo.ndjson")}) == 2);
  struct stat st {};
  if (::stat(mock.path("undo.ndjson").c_str(), &st) == 0) CHECK((st.st_mode & 0077) == 0);
  CHECK(mock.journal_records().empty());
}

TEST_CASE("apply --undo-out: a PATCH that went unanswered may have applied: it is undone") {
  // Every PATCH is applied, then its answer cut short: each line fails in doubt.
  constexpr unsigned jobs = 3;
  mock_process mock({"--truncate", "1"}, jobs);
  auto before = documents(mock, jobs);
  write_file(mock.path("m.ndjson"), line_of("job-0000001", "jobname", R"("renamed")") +
                                        line_of("job-0000002", "configs", R"({"taskTimeout":77})"));
  CHECK(run_apply(mock, mock.path("m.ndjson"),
                  {"--undo-out", mock.path("undo.ndjson"), "--max-attempts", "1"}) == 1);
  INFO(read_file(mock.path("apply.err")));
  REQUIRE(mock.journal_records().size() == 2); // applied, though no answer said so
  CHECK(documents(mock, jobs) != before);
  CHECK(read_lines(mock.path("undo.ndjson")).size() == 2);
  // The undo lines are applied too (their answers cut short as well).
  run_apply(mock, mock.path("undo.ndjson"), {"--max-attempts", "1"});
  CHECK(mock.journal_records().size() == 4);
  CHECK(documents(mock, jobs) == before);
}

TEST_CASE("apply --skip-unchanged: a run repeated sends nothing, a half-done one the rest") {
  mock_process mock({}, 6);
  std::string first_half = line_of("job-0000001", "configs", R"({"taskTimeout":600})") +
                           line_of("job-0000002", "jobname", R"("renamed")") +
                           line_of("job-0000003", "params", R"({"app":{"steps":30}})");
  std::string manifest =
      first_half + line_of("job-0000004", "configs", R"({"jobTimeout":"7200","isTestJob":true})") +
      line_of("job-0000005", "datasource",
              R"({"dataDestination":{"dataSourceDescriptor":"s3","params":{"bucket":"b"}}})") +
      line_of("job-0000006", "configs", R"({"taskTimeout":3600})"); // the mock's value already
  write_file(mock.path("half.ndjson"), first_half);
  write_file(mock.path("m.ndjson"), manifest);
  CHECK(run_apply(mock, mock.path("half.ndjson"), {}) == 0);
  REQUIRE(mock.journal_records().size() == 3);

  // The rest is sent; what is done already (and job 6, unchanged from the start) is not.
  CHECK(run_apply(mock, mock.path("m.ndjson"),
                  {"--skip-unchanged", "--results", mock.path("r1.ndjson"), "--summary-json",
                   mock.path("s1.json")}) == 0);
  INFO(read_file(mock.path("apply.err")));
  CHECK(mock.journal_records().size() == 5);
  auto r1 = by_line(mock.path("r1.ndjson"));
  for (std::uint64_t line : {1, 2, 3, 6}) {
    CHECK(r1[line].at("outcome") == "unchanged");
    CHECK(r1[line].at("status") == 200);
  }
  CHECK(r1[4].at("outcome") == "ok");
  CHECK(r1[5].at("outcome") == "ok");
  auto s1 = json::parse(read_file(mock.path("s1.json")));
  CHECK(s1.at("unchanged") == 4);
  CHECK(s1.at("ok") == 2);
  CHECK(s1.at("retries") == 0);

  // The same run again: no PATCH at all, every line unchanged, exit 0.
  CHECK(run_apply(mock, mock.path("m.ndjson"),
                  {"--skip-unchanged", "--results", mock.path("r2.ndjson")}) == 0);
  CHECK(mock.journal_records().size() == 5);
  auto r2 = by_line(mock.path("r2.ndjson"));
  REQUIRE(r2.size() == 6);
  for (auto& [line, record] : r2) CHECK(record.at("outcome") == "unchanged");
  CHECK(read_file(mock.path("apply.err")).find("6 unchanged") != std::string::npos);
}

TEST_CASE("apply --undo-out --resume: the undo file keeps each field's value from before") {
  mock_process mock({}, 2);
  auto before = documents(mock, 2);
  std::string first = line_of("job-0000001", "configs", R"({"taskTimeout":600})");
  write_file(mock.path("first.ndjson"), first);
  write_file(mock.path("m.ndjson"),
             first + line_of("job-0000001", "configs", R"({"taskTimeout":900})") +
                 line_of("job-0000002", "jobname", R"("renamed")"));
  // A run that applied the first line only (as if stopped there), then the resumed run.
  CHECK(run_apply(mock, mock.path("first.ndjson"),
                  {"--undo-out", mock.path("undo.ndjson"), "--results", mock.path("r.ndjson")}) ==
        0);
  CHECK(run_apply(mock, mock.path("m.ndjson"),
                  {"--undo-out", mock.path("undo.ndjson"), "--results", mock.path("r.ndjson"),
                   "--resume"}) == 0);
  INFO(read_file(mock.path("apply.err")));
  auto undo = read_lines(mock.path("undo.ndjson"));
  INFO(read_file(mock.path("undo.ndjson")));
  // Line 2's read saw 600, which this run's line 1 set: restoring it would be wrong.
  CHECK(undo.size() == 2);
  CHECK(undo[0] == R"({"jobId":"job-0000001","op":"configs","body":{"taskTimeout":3600}})");

  // An undo file that cannot be written stops the run at once (exit 4). One line: no
  // other PATCH is in flight when it stops, to reach the mock after the checks below.
  CHECK(run_apply(mock, mock.path("first.ndjson"), {"--undo-out", "/dev/full"}) == 4);

  // An undo file that holds lines is never overwritten by accident.
  CHECK(run_apply(mock, mock.path("m.ndjson"), {"--undo-out", mock.path("undo.ndjson")}) == 2);
  CHECK(read_file(mock.path("apply.err")).find("already holds undo lines") != std::string::npos);
  CHECK(read_lines(mock.path("undo.ndjson")) == undo);

  CHECK(run_apply(mock, mock.path("undo.ndjson"), {}) == 0);
  CHECK(documents(mock, 2) == before);
}

TEST_CASE("apply --undo-out --resume: a torn last undo line is cut off, the file stays whole") {
  mock_process mock({}, 2);
  auto before = documents(mock, 2);
  std::string first = line_of("job-0000001", "configs", R"({"taskTimeout":600})");
  write_file(mock.path("first.ndjson"), first);
  write_file(mock.path("m.ndjson"), first + line_of("job-0000002", "jobname", R"("renamed")"));
  std::string undo = mock.path("undo.ndjson");
  CHECK(run_apply(mock, mock.path("first.ndjson"),
                  {"--undo-out", undo, "--results", mock.path("r.ndjson")}) == 0);
  // A crash while the next undo line was being written (its PATCH never sent).
  std::string whole = read_file(undo);
  write_file(undo, whole + R"({"jobId":"job-0000002","op":"job)");
  CHECK(run_apply(mock, mock.path("m.ndjson"),
                  {"--undo-out", undo, "--results", mock.path("r.ndjson"), "--resume"}) == 0);
  std::string err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(err.find("cut a torn last undo line") != std::string::npos);
  auto lines = read_lines(undo);
  INFO(read_file(undo));
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] + "\n" == whole);
  CHECK(lines[1] == R"({"jobId":"job-0000002","op":"jobname","body":"mock job job-0000002"})");
  CHECK(run_apply(mock, undo, {}) == 0);
  CHECK(documents(mock, 2) == before);
}

TEST_CASE("plan: --ids, and an --output that clashes with an input is refused") {
  mock_process mock({}, 3);
  write_file(mock.path("ids.txt"), "job-0000001\njob-0000003\n");
  CHECK(run_jobpatch(mock, "plan",
                     {"--ids", mock.path("ids.txt"), "--op", "configs", "--body",
                      R"({"taskTimeout":3600,"isTestJob":true})", "--connections", "1"}) ==
        0); // one connection: the lines are read, and shown, in order
  std::string out = read_file(mock.path("plan.out"));
  INFO(read_file(mock.path("plan.err")));
  CHECK(out == "line 1 job-0000001 configs.isTestJob: false → true\n"
               "line 2 job-0000003 configs.isTestJob: false → true\n");

  write_file(mock.path("m.ndjson"), line_of("job-0000001", "jobname", R"("x")"));
  CHECK(run_jobpatch(mock, "plan", {mock.path("m.ndjson"), "--output", mock.path("m.ndjson")}) ==
        2);
  CHECK(read_file(mock.path("plan.err")).find("--output") != std::string::npos);
  CHECK(read_file(mock.path("m.ndjson")) == line_of("job-0000001", "jobname", R"("x")"));
  CHECK(mock.journal_records().empty());

  // A plan that cannot be written stops (exit 4) and says so.
  CHECK(run_jobpatch(mock, "plan", {mock.path("m.ndjson"), "--output", "/dev/full"}) == 4);
  CHECK(read_file(mock.path("plan.err")).find("the plan could not be written") !=
        std::string::npos);
}

TEST_CASE("apply --undo-out through a lossy network: the undo file still puts every job back") {
  constexpr unsigned jobs = 30;
  mock_process mock({}, jobs);
  auto before = documents(mock, jobs);
  // Every op, several lines per job (the same fields set again and again).
  auto manifest = make_manifest(mock, "m.ndjson", 150, jobs, 7);
  fault_proxy_options options;
  options.upstream_port = mock.port();
  options.seed = 3;
  options.reset_probability = 0.02; // reads and PATCHes cut off mid-way, retried
  options.stall_probability = 0;
  {
    // The proxy is gone before the undo file is applied: nothing it still held can reach
    // the mock after that.
    fault_proxy proxy(options);
    child_process run({JOBPATCH_BIN, "apply", manifest, "--base-url",
                       "https://localhost:" + std::to_string(proxy.port()), "--cacert", mock.cert(),
                       "--connections", "8", "--max-attempts", "25", "--settle", "0.2",
                       "--undo-out", mock.path("undo.ndjson"), "--results", mock.path("r.ndjson")},
                      {{"BYTENITE_API_KEY", mock_test_key}}, mock.path("apply.out"),
                      mock.path("apply.err"));
    REQUIRE(run.wait(120s) == 0);
    CHECK(proxy.stats().resets_mid_request + proxy.stats().resets_mid_response > 0);
  }
  INFO(read_file(mock.path("apply.err")));
  // Each field of a job is restored once (by the first value seen), however often the
  // manifest set it: at most one undo line per field of each job.
  CHECK(read_lines(mock.path("undo.ndjson")).size() <= std::size_t{jobs} * 10);
  CHECK(run_apply(mock, mock.path("undo.ndjson"), {"--connections", "8"}) == 0);
  CHECK(documents(mock, jobs) == before);
}

// Issue 25, item 7: plan has the run's instruments and apply's one exit path. Each case
// failed before (the options did not exist: exit 2).

TEST_CASE("plan --summary-json --metrics-file: counts match the plan's records, with the code") {
  mock_process mock({}, 5);
  std::string manifest = line_of("job-0000001", "configs", R"({"taskTimeout":600})") +
                         line_of("job-0000002", "configs", R"({"taskTimeout":3600})") +
                         line_of("job-0000009", "jobname", R"("gone")") +
                         line_of("job-0000003", "jobname", R"("renamed")") +
                         "{\"jobId\":\"job-0000004\",\"op\":\"configs\",\"body\":{\"x\":1}}\n";
  write_file(mock.path("m.ndjson"), manifest);
  CHECK(run_jobpatch(
            mock, "plan",
            instrumented(mock, {mock.path("m.ndjson"), "--output", mock.path("p.ndjson")})) ==
        1); // a job was not found, a line is invalid
  INFO(read_file(mock.path("plan.err")));
  check_last_words(mock, 1);

  std::map<std::string, std::uint64_t> outcomes;
  for (const auto& [line, record] : by_line(mock.path("p.ndjson")))
    ++outcomes[std::string(record.at("outcome").as_string())];
  CHECK(outcomes == std::map<std::string, std::uint64_t>{
                        {"change", 2}, {"unchanged", 1}, {"not_found", 1}, {"invalid", 1}});
  auto summary = summary_of(mock.path("s.json"));
  CHECK(json::serialize(summary.at("plan")) ==
        R"({"total":5,"change":2,"unchanged":1,"notFound":1,"failed":0,"invalid":1,)"
        R"("fieldsChanged":2})");
  // apply's fields too: a read per valid line, the not-found line failed, none aborted.
  CHECK(summary.at("total").as_int64() == 5);
  CHECK(summary.at("reads").as_int64() == 4);
  CHECK(summary.at("failed").as_int64() == 1);
  CHECK(summary.at("invalid").as_int64() == 1);
  CHECK(summary.at("manifestLines").as_int64() == 5);
  CHECK_FALSE(summary.at("aborted").as_bool());

  auto metrics = samples_of(mock.path("m.prom"));
  CHECK(metrics["jobpatch_lines_total{outcome=\"ok\"}"] == 3); // planned: change + unchanged
  CHECK(metrics["jobpatch_lines_total{outcome=\"failed\"}"] == 1);
  CHECK(metrics["jobpatch_lines_total{outcome=\"invalid\"}"] == 1);
  std::string run_id(summary.at("runId").as_string());
  CHECK(metrics["jobpatch_run_info{run_id=\"" + run_id + "\"}"] == 1);
  CHECK(mock.journal_records().empty());

  // Every line planned: 0 in both.
  write_file(mock.path("ok.ndjson"), line_of("job-0000001", "configs", R"({"taskTimeout":600})"));
  CHECK(run_jobpatch(mock, "plan", instrumented(mock, {mock.path("ok.ndjson")})) == 0);
  check_last_words(mock, 0);
  CHECK(summary_of(mock.path("s.json")).at("plan").at("change").as_int64() == 1);
}

TEST_CASE("plan --shard: shards 1/2 and 2/2 plan every line of the manifest exactly once") {
  mock_process mock({}, 60);
  auto manifest = make_manifest(mock, "m.ndjson", 300, 60);
  std::set<std::string> jobs_seen[2];
  std::map<std::uint64_t, int> planned; // line -> how many shards planned it
  for (int k = 1; k <= 2; ++k) {
    std::string shard = std::to_string(k) + "/2", output = mock.path("p" + shard.substr(0, 1));
    std::string summary_path = mock.path("s" + shard.substr(0, 1) + ".json");
    REQUIRE(run_jobpatch(mock, "plan",
                         {manifest, "--shard", shard, "--output", output, "--summary-json",
                          summary_path}) == 0);
    INFO(read_file(mock.path("plan.err")));
    auto records = by_line(output);
    CHECK_FALSE(records.empty());
    for (const auto& [line, record] : records) {
      ++planned[line];
      jobs_seen[k - 1].insert(std::string(record.at("jobId").as_string()));
    }
    auto summary = summary_of(summary_path);
    CHECK(summary.at("shard").as_string() == shard);
    CHECK(static_cast<std::size_t>(summary.at("plan").at("total").as_int64()) == records.size());
    CHECK(summary.at("manifestLines").as_int64() == 300); // each shard reads the whole file
  }
  CHECK(planned.size() == 300);
  CHECK(planned.begin()->first == 1);
  CHECK(planned.rbegin()->first == 300);
  for (const auto& [line, shards] : planned) CHECK(shards == 1);
  // A job's lines all go to one shard.
  for (const auto& job : jobs_seen[0]) CHECK(jobs_seen[1].count(job) == 0);
  CHECK(mock.journal_records().empty());
}

TEST_CASE("plan --deadline: a slow server's plan stops at the deadline, exit 1, said so") {
  // 2 connections at 200 ms per read: 100 lines take 10 s; the deadline is 1 s.
  mock_process mock({"--latency-ms", "200"}, 100);
  auto manifest = make_manifest(mock, "m.ndjson", 100, 100);
  CHECK(run_jobpatch(mock, "plan",
                     instrumented(mock, {manifest, "--connections", "2", "--deadline", "1",
                                         "--output", mock.path("p.ndjson")})) == 1);
  std::string err = read_file(mock.path("plan.err"));
  INFO(err);
  CHECK(err.find("stopped at the --deadline") != std::string::npos);
  CHECK(err.find("lines were not read") != std::string::npos);
  check_last_words(mock, 1);
  auto summary = summary_of(mock.path("s.json"));
  CHECK(summary.at("deadlineExceeded").as_bool());
  auto records = read_lines(mock.path("p.ndjson")).size();
  auto planned = static_cast<std::size_t>(summary.at("plan").at("total").as_int64());
  auto not_read = static_cast<std::size_t>(summary.at("notAttempted").as_int64());
  CHECK(planned == records);
  CHECK(not_read > 0);
  CHECK(planned + not_read == 100); // every line planned or counted as not read
}

TEST_CASE("plan --progress always: a progress line counts the lines planned of the total") {
  // 2 connections at 20 ms per read: about 1 s, several ticks of 250 ms.
  mock_process mock({"--latency-ms", "20"}, 100);
  auto manifest = make_manifest(mock, "m.ndjson", 100, 100);
  CHECK(run_jobpatch(mock, "plan", {manifest, "--connections", "2", "--progress", "always"}) == 0);
  std::string err = read_file(mock.path("plan.err"));
  INFO(err);
  CHECK(err.find('\r') != std::string::npos);
  CHECK(err.find("/100 ") != std::string::npos); // done/total of the first pass's count
  CHECK(err.find("plan: 100 lines: 100 change something") != std::string::npos);
}

TEST_CASE("plan: a refusal before reading leaves a summary and metrics with exit 2") {
  mock_process mock({}, 5);
  auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
  child_process run(jobpatch_argv(mock, "plan", manifest, instrumented(mock, {})),
                    {{"BYTENITE_API_KEY", ""}}, mock.path("plan.out"), mock.path("plan.err"));
  REQUIRE(run.wait(60s) == 2); // no API key
  INFO(read_file(mock.path("plan.err")));
  check_last_words(mock, 2);
  auto summary = summary_of(mock.path("s.json"));
  CHECK(summary.at("aborted").as_bool());
  CHECK(std::string(summary.at("abortReason").as_string()).find("API key") != std::string::npos);
  CHECK(summary.at("plan").at("total").as_int64() == 0);
  CHECK(summary.at("reads").as_int64() == 0);
}

TEST_CASE("plan: an --output that cannot be written is exit 4 in the summary and metrics") {
  mock_process mock({}, 5);
  auto manifest = make_manifest(mock, "m.ndjson", 40, 5);
  CHECK(run_jobpatch(mock, "plan", instrumented(mock, {manifest, "--output", "/dev/full"})) == 4);
  INFO(read_file(mock.path("plan.err")));
  check_last_words(mock, 4);
  CHECK(std::string(summary_of(mock.path("s.json")).at("abortReason").as_string())
            .find("the plan could not be written") != std::string::npos);
}

TEST_CASE("plan: a second signal leaves at once, its summary and metrics say 130") {
  mock_process mock({"--latency-ms", "300"}, 50);
  auto manifest = make_manifest(mock, "m.ndjson", 50, 50);
  child_process run(
      jobpatch_argv(mock, "plan", manifest,
                    instrumented(mock, {"--connections", "4", "--output", mock.path("p.ndjson")})),
      {{"BYTENITE_API_KEY", mock_test_key}}, mock.path("plan.out"), mock.path("plan.err"));
  // The first plans recorded: reads are in flight behind them.
  REQUIRE(wait_for_lines(mock.path("p.ndjson"), 4, run, 60s) >= 4);
  run.signal(SIGINT);
  REQUIRE(wait_signal_taken(run.pid(), SIGINT, 10s));
  run.signal(SIGINT); // leave at once: the answers are 300 ms away
  REQUIRE(run.wait(60s) == 130);
  std::string err = read_file(mock.path("plan.err"));
  INFO(err);
  // What a plan leaves is lines without a plan: nothing to resume, no PATCH in doubt.
  CHECK(err.find("second signal: leaving at once") != std::string::npos);
  CHECK(err.find("left without a plan") != std::string::npos);
  CHECK(err.find("--resume") == std::string::npos);
  check_last_words(mock, 130);
  CHECK(summary_of(mock.path("s.json")).at("plan").at("total").as_int64() ==
        static_cast<std::int64_t>(read_lines(mock.path("p.ndjson")).size()));
}
