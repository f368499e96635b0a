#include <jobpatch/stats/summary_merge.hpp>

#include <jobpatch/stats/run_statistics.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <doctest/doctest.h>

using namespace jobpatch;
using std::chrono::microseconds;
namespace json = boost::json;

namespace {

// Feeds one line's story to a shard's statistics and to those of a single run.
struct two_views {
  run_statistics shard[2], whole;
  void line(int k, op_kind op, outcome o, std::initializer_list<int> statuses, int latency_us) {
    for (auto* s : {&shard[k], &whole}) {
      for (int status : statuses)
        s->record_attempt(op,
                          status ? attempt_outcome::http(status)
                                 : attempt_outcome::failure(error_class::timeout),
                          microseconds(latency_us / 2));
      s->record_outcome(op, o, static_cast<unsigned>(statuses.size()), microseconds(latency_us));
      if (o == outcome::failed) s->record_failure_reason("HTTP 404 Not Found");
    }
  }
};

run_status shard_status(int k, std::int64_t start, std::int64_t end) {
  run_status status;
  status.shard = std::to_string(k) + "/2";
  status.manifest_lines = 12;
  status.started_unix_ms = start;
  status.ended_unix_ms = end;
  status.wall_seconds = static_cast<double>(end - start) / 1000;
  return status;
}

json::object parsed(const std::string& text) { return json::parse(text).as_object(); }

} // namespace

TEST_CASE("merge_summaries: counts are the sums, latencies those of one histogram") {
  two_views v;
  for (int i = 0; i < 5; ++i) v.line(0, op_kind::configs, outcome::ok, {200}, 1000 + 37 * i);
  v.line(0, op_kind::jobname, outcome::failed, {404}, 800);
  for (int i = 0; i < 4; ++i) v.line(1, op_kind::configs, outcome::ok, {503, 200}, 5000 + 91 * i);
  v.line(1, op_kind::params, outcome::ok, {0, 200}, 90'000);
  v.line(1, op_kind::jobname, outcome::unchanged, {200}, 700); // --skip-unchanged: a read only
  for (auto* s : {&v.shard[1], &v.whole}) s->record_read();
  // An invalid line without a job id: both shards record it, a single run once.
  v.shard[0].record_invalid(op_kind::configs, true);
  v.shard[1].record_invalid(op_kind::configs, true);
  v.whole.record_invalid(op_kind::configs, true);
  v.shard[1].record_invalid(std::nullopt, false); // one with a job id: one shard
  v.whole.record_invalid(std::nullopt, false);

  auto merged = merge_summaries(
      {{"s1.json", v.shard[0].summary_json(shard_status(1, 1'000'000, 1'002'000), 1)},
       {"s2.json", v.shard[1].summary_json(shard_status(2, 1'000'500, 1'003'000), 1)}});
  CHECK(merged.warnings.empty());
  auto m = parsed(merged.json);
  run_status whole_status;
  whole_status.wall_seconds = 3;
  auto w = parsed(v.whole.summary_json(whole_status, 1));
  for (const char* key : {"total", "ok", "failed", "invalid", "skipped", "attempts", "retries",
                          "requests", "invalidInEveryShard", "unchanged", "reads"})
    CHECK_MESSAGE(m[key] == w[key], key, " merged ", json::serialize(m[key]), " whole ",
                  json::serialize(w[key]));
  CHECK(m["total"] == 14);
  CHECK(m["unchanged"] == 1);
  CHECK(m["invalid"] == 2);
  CHECK(m["byStatus"] == w["byStatus"]);
  CHECK(m["byError"] == w["byError"]);
  CHECK(m["errorsByClass"] == w["errorsByClass"]);
  CHECK(m["latencyMs"] == w["latencyMs"]);
  CHECK(m["serviceMs"] == w["serviceMs"]);
  CHECK(m["latencyHistogram"] == w["latencyHistogram"]);
  for (const char* op : {"configs", "jobname", "params", "datasource"}) {
    auto mo = m["byOp"].as_object()[op].as_object(), wo = w["byOp"].as_object()[op].as_object();
    for (const char* key :
         {"ok", "failed", "invalid", "skipped", "unchanged", "attempts", "latencyMs"})
      CHECK_MESSAGE(mo[key] == wo[key], op, ".", key);
  }
  // From the first start to the last end: 3 s; 17 attempts in them.
  CHECK(m["wallSeconds"].to_number<double>() == doctest::Approx(3.0));
  CHECK(m["requestsPerSecond"].to_number<double>() == doctest::Approx(5.7));
  CHECK(m["shards"] == 2);
  CHECK(m["manifestLines"] == 12);
  CHECK(m["exitCode"] == 1);
  CHECK(m["mergedFrom"].as_array().size() == 2);
}

TEST_CASE("merge_summaries: without start and end times the longest shard is the wall time") {
  run_statistics a, b;
  a.record_attempt(op_kind::configs, attempt_outcome::success(200), microseconds(100));
  a.record_outcome(op_kind::configs, outcome::ok, 1, microseconds(100));
  run_status sa = shard_status(1, 0, 0), sb = shard_status(2, 0, 0);
  sa.wall_seconds = 2;
  sb.wall_seconds = 1;
  sb.aborted = true;
  sb.abort_reason = "authentication failed";
  auto m =
      parsed(merge_summaries({{"a", a.summary_json(sa, 0)}, {"b", b.summary_json(sb, 3)}}).json);
  CHECK(m["wallSeconds"].to_number<double>() == doctest::Approx(2.0));
  CHECK(m["requestsPerSecond"].to_number<double>() == doctest::Approx(0.5));
  CHECK(m["aborted"] == true);
  CHECK(m["abortReason"] == "shard 2/2: authentication failed");
  CHECK(m["exitCode"] == 3);
}

TEST_CASE("merge_summaries: shards that do not form one run are refused, naming the file") {
  run_statistics s;
  auto summary = [&](const std::string& shard, std::uint64_t lines = 12) {
    run_status status;
    status.shard = shard;
    status.manifest_lines = lines;
    return s.summary_json(status, 0);
  };
  auto error_of = [](const std::vector<summary_input>& in) {
    try {
      merge_summaries(in);
    } catch (const summary_merge_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of({{"a", summary("1/3")}, {"b", summary("3/3")}}).find("no summary of shard 2/3") !=
        std::string::npos);
  CHECK(error_of({{"a", summary("1/2")}, {"b", summary("1/2")}}) ==
        "a and b are both shard 1/2: pass one summary per shard (of a resumed shard, the last "
        "run's)");
  CHECK(error_of({{"a", summary("1/2")}, {"b", summary("2/3")}}).find("share N") !=
        std::string::npos);
  CHECK(error_of({{"a", summary("1/2")}, {"b", summary("")}}).find("b: a run over the whole") == 0);
  CHECK(error_of({{"a", summary("1/2")}, {"b", summary("2/2", 11)}})
            .find("a read 12 manifest lines, b read 11") == 0);
  CHECK(error_of({{"x.json", "{\"total\":"}}).find("x.json: not JSON") == 0);
  CHECK(error_of({{"x.json", "[1]"}}).find("x.json: not a JSON object") == 0);
  // A summary from before the histogram was recorded.
  std::string old = summary("");
  auto at = old.rfind(",\"latencyHistogram\""); // the run's, not an op's
  auto end = old.rfind(",\"serviceHistogram\"");
  old.erase(at, end - at);
  CHECK_MESSAGE(error_of({{"old.json", old}}).find("old.json: no \"latencyHistogram\"") == 0,
                error_of({{"old.json", old}}));
  // A merge of a single whole-manifest summary is that summary again; unknown fields are fine.
  std::string extra = summary("");
  extra.insert(1, "\"someday\":{\"x\":[1,2]},");
  CHECK(error_of({{"x", extra}}) == "no error");
}
