// A disk that stalls must not stall the network (issue 22): every write, fsync and
// fdatasync of the run's files happens on the writer thread, never on the io thread that
// drives the connections. slow_sync.c, preloaded into jobpatch, makes each fdatasync and
// fsync sleep 200 ms. Not in sanitizer builds (ASan's runtime must be loaded before any
// LD_PRELOAD), and labelled "perf": it judges latency.

#include "apply_runner.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>

using namespace jobpatch::test;
namespace json = boost::json;

#if defined(JOBPATCH_SLOW_SYNC_SO)
namespace {

struct stall_run {
  double p50_ms = 0;
  std::size_t records = 0;
  unsigned long stalls = 0; // fdatasync/fsync calls the shim slowed down
};

stall_run apply_once(const mock_process& mock, const std::string& manifest, const std::string& name,
                     bool slow_disk) {
  std::map<std::string, std::string> env = {{"BYTENITE_API_KEY", mock_test_key}};
  std::string count_file = mock.path(name + ".stalls");
  if (slow_disk) {
    env["LD_PRELOAD"] = JOBPATCH_SLOW_SYNC_SO;
    env["SLOW_SYNC_COUNT_OUT"] = count_file;
  }
  std::string results = mock.path(name + ".r"), summary = mock.path(name + ".s.json");
  child_process run(jobpatch_argv(mock, "apply", manifest,
                                  {"--connections", "64", "--results", results, "--summary-json",
                                   summary, "--progress", "never"}),
                    env, mock.path(name + ".out"), mock.path(name + ".err"));
  int code = run.wait(std::chrono::seconds(120));
  INFO(read_file(mock.path(name + ".err")));
  REQUIRE(code == 0);
  stall_run out;
  auto s = json::parse(read_file(summary)).as_object();
  out.p50_ms = s["latencyMs"].as_object()["p50"].to_number<double>();
  out.records = read_lines(results).size();
  if (slow_disk) {
    std::ifstream in(count_file);
    in >> out.stalls;
  }
  return out;
}

} // namespace

TEST_CASE("apply: a disk stalling 200 ms per fdatasync does not move request latency" *
          doctest::test_suite("perf")) {
  // Every answer takes 50 ms, so 64 connections keep ~64 requests in flight for the whole
  // run (~1.6 s of 2,000 lines, with an fdatasync due every 100 ms). When the thread that
  // reads the answers also syncs the results file, each 200 ms stall holds the answers
  // due meanwhile: before the writer thread, p50 rose from 51 to 223 ms.
  mock_process mock({"--latency-ms", "50"}, 200);
  auto manifest = make_manifest(mock, "m.ndjson", 2000, 200);
  stall_run plain = apply_once(mock, manifest, "plain", false);
  stall_run stalled = apply_once(mock, manifest, "stalled", true);
  MESSAGE("p50 latency: " << plain.p50_ms << " ms on a plain disk, " << stalled.p50_ms
                          << " ms with fdatasync stalling 200 ms (" << stalled.stalls
                          << " stalls)");
  CHECK(plain.records == 2000);
  CHECK(stalled.records == 2000);
  // The shim was in effect: the run synced several times (every 100 ms, and at the end).
  CHECK(stalled.stalls >= 3);
  // A margin no loaded 2-core machine should reach, far below one stall.
  CHECK(stalled.p50_ms < plain.p50_ms + 50);
}
#endif
