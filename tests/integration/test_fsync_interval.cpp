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
#endif
