// --fsync-interval, counted: the results file is fdatasync'ed during the run once per
// interval, and once more at its end (every record durable before the summary); with 0,
// never during the run, only that once at the end. slow_sync.c, preloaded with SYNC_LOG,
// logs each fdatasync with the file's size at the time: a size below the final one is a
// sync made during the run. Not in sanitizer builds (the shim is not built there).

#include "apply_runner.hpp"
#include "sync_log.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace jobpatch::test;

#if defined(JOBPATCH_SLOW_SYNC_SO)
namespace {

constexpr unsigned lines = 200;

struct synced_run {
  std::vector<sync_call> syncs; // the results file's fdatasyncs, in order
  std::int64_t final_size = 0;
  std::size_t during() const { // made while records were still to come
    return static_cast<std::size_t>(std::count_if(
        syncs.begin(), syncs.end(), [&](const sync_call& c) { return c.size < final_size; }));
  }
};

synced_run apply_logging_syncs(const mock_process& mock, const std::string& manifest,
                               const std::string& name, const std::string& interval_ms) {
  std::string results = mock.path(name + ".r.ndjson"), log = mock.path(name + ".syncs");
  auto env = sync_log_env(log);
  env["BYTENITE_API_KEY"] = mock_test_key;
  child_process run(jobpatch_argv(mock, "apply", manifest,
                                  {"--connections", "4", "--results", results, "--fsync-interval",
                                   interval_ms, "--progress", "never"}),
                    env, mock.path(name + ".out"), mock.path(name + ".err"));
  int code = run.wait(std::chrono::seconds(120));
  INFO(read_file(mock.path(name + ".err")));
  REQUIRE(code == 0);
  REQUIRE(read_lines(results).size() == lines);
  // The shim was in effect: something was synced (the end of the run syncs in any case).
  REQUIRE_FALSE(sync_calls(log).empty());
  return {sync_calls(log, "fdatasync", results),
          static_cast<std::int64_t>(std::filesystem::file_size(results))};
}

} // namespace

TEST_CASE("fsync: --fsync-interval 100 fdatasyncs the results file during the run and at its "
          "end") {
  // Every answer takes 20 ms and 4 connections send 200 lines one after the other: the run
  // lasts at least 1 s, ten intervals, however fast the machine (a slow one only adds more).
  mock_process mock({"--latency-ms", "20"}, 50);
  auto manifest = make_manifest(mock, "m.ndjson", lines, 50);
  synced_run run = apply_logging_syncs(mock, manifest, "interval", "100");
  MESSAGE(run.syncs.size() << " fdatasyncs of the results file, " << run.during()
                           << " during the run");
  CHECK(run.during() >= 1);
  // The last one covers every record: the summary is printed after it.
  REQUIRE_FALSE(run.syncs.empty());
  CHECK(run.syncs.back().size == run.final_size);
}

TEST_CASE("fsync: --fsync-interval 0 makes no fdatasync during the run, one at its end") {
  mock_process mock({"--latency-ms", "20"}, 50);
  auto manifest = make_manifest(mock, "m.ndjson", lines, 50);
  synced_run run = apply_logging_syncs(mock, manifest, "never", "0");
  CHECK(run.during() == 0);
  REQUIRE(run.syncs.size() == 1);
  CHECK(run.syncs.back().size == run.final_size);
}

// Write-ahead undo: a line's PATCH leaves only once its undo line is fdatasync'ed, so the
// undo file is synced as lines are read, long before the 60 s --fsync-interval (waiting only
// for the write, or for the interval, would sync it once, at the end). While a line waits,
// the connection reads the next job: one sync may cover a few lines (group commit).
TEST_CASE("fsync: --undo-out fdatasyncs each undo line before its PATCH leaves") {
  constexpr unsigned jobs = 10;
  mock_process mock({}, jobs);
  auto manifest = make_manifest(mock, "m.ndjson", jobs, jobs);
  std::string undo = mock.path("u.ndjson"), log = mock.path("undo.syncs");
  auto env = sync_log_env(log);
  env["BYTENITE_API_KEY"] = mock_test_key;
  child_process run(jobpatch_argv(mock, "apply", manifest,
                                  {"--connections", "1", "--undo-out", undo, "--results",
                                   mock.path("r.ndjson"), "--fsync-interval", "60000"}),
                    env, mock.path("out"), mock.path("err"));
  REQUIRE(run.wait(std::chrono::seconds(120)) == 0);
  INFO(read_file(mock.path("err")));
  std::size_t undo_lines = read_lines(undo).size();
  REQUIRE(undo_lines >= jobs / 2); // a line whose old values make no valid update has none
  auto final_size = static_cast<std::int64_t>(std::filesystem::file_size(undo));
  std::size_t during = 0;
  for (const auto& c : sync_calls(log, "fdatasync", undo)) during += c.size < final_size;
  MESSAGE(during << " fdatasyncs of the undo file before its last line, for " << undo_lines
                 << " lines");
  CHECK(during >= 2);
}

// The other half: when the undo line cannot be made durable, its PATCH is never sent. Each
// fdatasync of the undo file waits 100 ms, then fails: a PATCH that did not wait for it
// would reach the server meanwhile.
TEST_CASE("fsync: an undo file that cannot be fdatasync'ed lets no PATCH leave, exit 4") {
  constexpr unsigned jobs = 20;
  mock_process mock({}, jobs);
  auto manifest = make_manifest(mock, "m.ndjson", jobs, jobs);
  std::string undo = mock.path("u.ndjson");
  std::map<std::string, std::string> env = {{"LD_PRELOAD", JOBPATCH_SLOW_SYNC_SO},
                                            {"SLOW_SYNC_MS", "100"},
                                            {"SYNC_FAIL", "/u.ndjson"},
                                            {"BYTENITE_API_KEY", mock_test_key}};
  child_process run(
      jobpatch_argv(mock, "apply", manifest,
                    {"--connections", "4", "--undo-out", undo, "--results", mock.path("r.ndjson")}),
      env, mock.path("out"), mock.path("err"));
  int code = run.wait(std::chrono::seconds(120));
  std::string err = read_file(mock.path("err"));
  INFO(err);
  CHECK(code == 4);
  CHECK(err.find("u.ndjson") != std::string::npos);
  CHECK(mock.journal_records().empty());
}
#endif
