// `jobpatch merge`: four shards of one manifest run at once against one mock, then their
// results and summaries merged, compared with a single run of the same manifest.

#include "apply_runner.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

constexpr unsigned shard_count = 4;
constexpr unsigned jobs = 120;
constexpr double shard_rate = 300; // requests/s per shard
constexpr double shard_burst = 5;

// The generated manifest with, spread through it: updates of jobs the mock does not have
// (a 404, then the job's next update withheld), invalid lines without a job id (recorded
// by every shard) and invalid lines of a known job (recorded by its shard), and blank
// lines (no record). `valid` receives the lines of existing jobs only, for the order check.
struct test_manifest {
  std::string path, valid;
  std::set<std::uint64_t> lines;       // non-blank line numbers
  std::set<std::uint64_t> without_job; // invalid lines every shard records
  std::uint64_t missing_job_lines = 0;
};

test_manifest build_manifest(const mock_process& mock) {
  std::string base = make_manifest(mock, "base.ndjson", 2400, jobs, 11);
  test_manifest m;
  m.path = mock.path("manifest.ndjson");
  m.valid = base;
  std::string text;
  std::uint64_t number = 0;
  auto add = [&](const std::string& line) {
    text += line + "\n";
    ++number;
    if (!line.empty()) m.lines.insert(number);
  };
  unsigned i = 0;
  for (const auto& line : read_lines(base)) {
    ++i;
    add(line);
    if (i % 97 == 0) {
      std::string id = "job-missing-" + std::to_string(i % 7);
      add(R"({"jobId":")" + id + R"(","op":"jobname","body":"gone-)" + std::to_string(i) + "\"}");
      ++m.missing_job_lines;
    }
    if (i % 401 == 0) {
      add(R"({"jobId" "job-0000001"})"); // not JSON: no job id known
      m.without_job.insert(number);
    }
    if (i % 503 == 0) add(R"({"jobId":"job-0000002","op":"configs","body":{"taskTimeout":"x"}})");
    if (i % 611 == 0) add("");
  }
  write_file(m.path, text);
  return m;
}

std::vector<std::string> apply_argv(const mock_process& mock, const std::string& manifest,
                                    std::vector<std::string> extra) {
  extra.insert(extra.begin(), {"--skip-invalid", "--progress", "never"});
  return jobpatch_argv(mock, "apply", manifest, std::move(extra));
}

json::object parse_object(const std::string& text) { return json::parse(text).as_object(); }

std::uint64_t u64(const json::value& v) { return v.to_number<std::uint64_t>(); }

// Records of a results file by line (the last of each line).
std::map<std::uint64_t, json::object> records_by_line(const std::string& path) {
  std::map<std::uint64_t, json::object> out;
  for (const auto& line : read_lines(path)) {
    auto r = parse_object(line);
    out[u64(r.at("line"))] = r;
  }
  return out;
}

// The value at quantile q by the histogram's rank rule: the smallest with ceil(q*n) at or
// below it.
double exact_quantile(std::vector<double> sorted, double q) {
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

} // namespace

TEST_CASE("merge: four shards run at once merge into a single run's outcomes, counts and "
          "latencies") {
  mock_process mock({}, jobs);
  test_manifest manifest = build_manifest(mock);

  // The four shards at once, against the one mock.
  std::vector<std::unique_ptr<child_process>> shards;
  std::vector<std::string> results, summaries;
  for (unsigned k = 1; k <= shard_count; ++k) {
    std::string n = std::to_string(k);
    results.push_back(mock.path("results-" + n + ".ndjson"));
    summaries.push_back(mock.path("summary-" + n + ".json"));
    shards.push_back(std::make_unique<child_process>(
        apply_argv(mock, manifest.path,
                   {"--shard", n + "/" + std::to_string(shard_count), "--results", results.back(),
                    "--summary-json", summaries.back(), "--rate", std::to_string(shard_rate),
                    "--burst", std::to_string(shard_burst)}),
        std::map<std::string, std::string>{{"BYTENITE_API_KEY", mock_test_key}}, std::string(),
        mock.path("apply-" + n + ".err")));
  }
  for (unsigned k = 0; k < shard_count; ++k) {
    INFO(read_file(mock.path("apply-" + std::to_string(k + 1) + ".err")));
    CHECK(shards[k]->wait(std::chrono::seconds(120)) == 1); // some lines failed or invalid
  }

  // No line in two shards, but for the invalid lines without a job id, in all of them.
  std::map<std::uint64_t, std::set<unsigned>> shards_of_line;
  for (unsigned k = 0; k < shard_count; ++k)
    for (const auto& [line, record] : records_by_line(results[k])) shards_of_line[line].insert(k);
  for (const auto& [line, in] : shards_of_line) {
    if (manifest.without_job.count(line))
      CHECK_MESSAGE(in.size() == shard_count, "line ", line);
    else
      CHECK_MESSAGE(in.size() == 1, "line ", line, " is in ", in.size(), " shards");
  }

  std::string merged = mock.path("merged.ndjson"), merged_summary = mock.path("merged.json");
  std::vector<std::string> argv = {JOBPATCH_BIN, "merge"};
  argv.insert(argv.end(), results.begin(), results.end());
  argv.insert(argv.end(), {"--results", merged, "--summaries"});
  argv.insert(argv.end(), summaries.begin(), summaries.end());
  argv.insert(argv.end(), {"--summary-json", merged_summary});
  {
    child_process merge(argv, {}, mock.path("merge.out"), mock.path("merge.err"));
    INFO(read_file(mock.path("merge.err")));
    REQUIRE(merge.wait(std::chrono::seconds(60)) == 0);
    std::string said = read_file(mock.path("merge.err"));
    CHECK_MESSAGE(said.find("warning") == std::string::npos, said);
  }

  // Every manifest line has exactly one merged record, in line order.
  std::vector<std::uint64_t> merged_lines;
  for (const auto& line : read_lines(merged))
    merged_lines.push_back(u64(parse_object(line).at("line")));
  CHECK(std::is_sorted(merged_lines.begin(), merged_lines.end()));
  CHECK(std::adjacent_find(merged_lines.begin(), merged_lines.end()) == merged_lines.end());
  CHECK(std::set<std::uint64_t>(merged_lines.begin(), merged_lines.end()) == manifest.lines);

  // Each job's updates reached the server in manifest order, though four processes sent.
  CHECK(check_applied_in_order(manifest.valid, mock.journal()) == "");

  // The same manifest in one run, against a fresh mock: the same outcome for every line.
  mock_process single_mock({}, jobs);
  std::string single = single_mock.path("single.ndjson"),
              single_summary = single_mock.path("single.json");
  CHECK(run_apply(single_mock, manifest.path,
                  {"--skip-invalid", "--results", single, "--summary-json", single_summary}) == 1);
  auto merged_records = records_by_line(merged), single_records = records_by_line(single);
  REQUIRE(merged_records.size() == single_records.size());
  std::uint64_t not_found = 0;
  for (const auto& [line, want] : single_records) {
    auto& got = merged_records[line];
    for (const char* key : {"jobId", "op", "seq", "outcome", "status"}) {
      const json::value *g = got.if_contains(key), *w = want.if_contains(key);
      bool same = g && w ? *g == *w : !g && !w;
      CHECK_MESSAGE(same, "line ", line, " ", key, ": merged ", json::serialize(got), " single ",
                    json::serialize(want));
    }
    not_found += want.contains("status") && want.at("status") == 404;
  }
  CHECK(not_found >= 1); // the fixture does what it claims: some lines failed with a 404

  // Counts: the merged summary's are the shards' sums (the lines every shard recorded
  // counted once) and a single run's.
  auto m = parse_object(read_file(merged_summary));
  auto one = parse_object(read_file(single_summary));
  std::map<std::string, std::uint64_t> sums;
  double wall_sum_of_rates = 0, burst_sum = 0;
  std::vector<json::object> shard_docs;
  for (const auto& path : summaries) {
    shard_docs.push_back(parse_object(read_file(path)));
    for (const char* key : {"total", "ok", "failed", "invalid", "skipped", "attempts", "retries"})
      sums[key] += u64(shard_docs.back().at(key));
    wall_sum_of_rates += shard_rate;
    burst_sum += shard_burst;
  }
  std::uint64_t repeated = (shard_count - 1) * manifest.without_job.size();
  CHECK(u64(m.at("total")) == sums["total"] - repeated);
  CHECK(u64(m.at("invalid")) == sums["invalid"] - repeated);
  for (const char* key : {"ok", "failed", "skipped", "attempts", "retries"})
    CHECK_MESSAGE(u64(m.at(key)) == sums[key], key);
  for (const char* key : {"total", "ok", "failed", "invalid", "skipped"})
    CHECK_MESSAGE(m.at(key) == one.at(key), key);
  CHECK(u64(m.at("total")) == manifest.lines.size());
  CHECK(m.at("byStatus") == one.at("byStatus"));
  CHECK(m.at("byError") == one.at("byError"));
  CHECK(u64(m.at("shards")) == shard_count);

  // The combined rate stays within the sum of the shards' rates: with GCRA each shard sent
  // at most burst + rate * (its span) requests, and the merged wall time spans them all.
  double wall = m.at("wallSeconds").to_number<double>();
  REQUIRE(wall > 0);
  for (const auto& doc : shard_docs) CHECK(wall >= doc.at("wallSeconds").to_number<double>());
  double rate = m.at("requestsPerSecond").to_number<double>();
  MESSAGE("merged: ", u64(m.at("attempts")), " attempts in ", wall, " s: ", rate,
          " requests/s; the shards' rates add up to ", wall_sum_of_rates);
  CHECK(rate <= (wall_sum_of_rates + (burst_sum + shard_count) / wall) * 1.01 + 0.1);
  CHECK(rate == doctest::Approx(static_cast<double>(u64(m.at("attempts"))) / wall).epsilon(0.01));

  // Percentiles: those of one histogram holding every shard's values. First against the
  // shards' buckets added up here, then against the merged records' own latencies.
  std::map<std::uint64_t, std::uint64_t> buckets;
  std::uint64_t max_ns = 0;
  for (const auto& doc : shard_docs) {
    const auto& h = doc.at("latencyHistogram").as_object();
    for (const auto& b : h.at("buckets").as_array())
      buckets[u64(b.as_array()[0])] += u64(b.as_array()[1]);
    max_ns = std::max(max_ns, u64(h.at("max")));
  }
  std::vector<double> latencies;
  for (const auto& [line, r] : merged_records)
    if (r.contains("latencyMs")) latencies.push_back(r.at("latencyMs").to_number<double>());
  std::sort(latencies.begin(), latencies.end());
  const auto& latency = m.at("latencyMs").as_object();
  REQUIRE(u64(latency.at("count")) == latencies.size());
  std::uint64_t total = 0;
  for (auto [index, n] : buckets) total += n;
  CHECK(total == latencies.size());
  CHECK(latency.at("max").to_number<double>() ==
        doctest::Approx(static_cast<double>(max_ns) / 1e6).epsilon(0.001));
  std::pair<double, const char*> quantiles[] = {
      {0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}, {0.999, "p999"}};
  for (auto [q, key] : quantiles) {
    double got = latency.at(key).to_number<double>();
    // The bucket holding rank ceil(q*n) of the added-up buckets, as the histogram reports
    // it: its midpoint.
    auto rank = std::clamp<std::uint64_t>(
        static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))), 1, total);
    std::uint64_t seen = 0;
    double expected_ms = 0;
    for (auto [index, n] : buckets) {
      seen += n;
      if (seen >= rank) {
        // Lower bounds of index and index+1 in the log-linear layout with 7 significant bits.
        auto lower = [](std::uint64_t i) -> std::uint64_t {
          if (i < 128) return i;
          std::uint64_t shift = (i >> 6) - 1;
          return (i - (shift << 6)) << shift;
        };
        expected_ms =
            static_cast<double>(lower(index) + (lower(index + 1) - 1 - lower(index)) / 2) / 1e6;
        break;
      }
    }
    double exact = exact_quantile(latencies, q);
    CHECK_MESSAGE(std::abs(got - expected_ms) <= 0.01 * expected_ms + 0.001, key, " merged ", got,
                  " from the shards' buckets ", expected_ms);
    // The records hold latencies rounded to 1 us: allow that beside the 1 %.
    CHECK_MESSAGE(std::abs(got - exact) <= 0.01 * exact + 0.002, key, " merged ", got,
                  " exact over the records ", exact);
  }
}

TEST_CASE("merge: overlapping shards, a missing shard and an old summary are refused and "
          "nothing is written") {
  temp_dir dir;
  std::string a = dir.path("a.ndjson"), b = dir.path("b.ndjson"), out = dir.path("out.ndjson");
  write_file(a, "{\"line\":1,\"jobId\":\"j1\",\"outcome\":\"ok\"}\n"
                "{\"line\":2,\"jobId\":\"j2\",\"outcome\":\"ok\"}\n");
  write_file(b, "{\"line\":2,\"jobId\":\"j2\",\"outcome\":\"failed\"}\n"
                "oops\n");
  auto merge = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {JOBPATCH_BIN, "merge"};
    argv.insert(argv.end(), args.begin(), args.end());
    child_process run(argv, {}, dir.path("merge.out"), dir.path("merge.err"));
    return run.wait(std::chrono::seconds(30));
  };
  CHECK(merge({a, b, "--results", out}) == 2);
  std::string err = read_file(dir.path("merge.err"));
  CHECK(err.find("line 2 is recorded in " + a + " and in " + b + ": the shards overlapped") !=
        std::string::npos);
  CHECK(err.find(b + ":2: not a JSON object") != std::string::npos);
  CHECK(read_file(out).empty());

  std::string s1 = dir.path("s1.json"), s2 = dir.path("s2.json"), sm = dir.path("sm.json");
  const std::string histogram =
      R"({"unit":"ns","layout":"log-linear-7","count":0,"min":0,"max":0,"sum":0,"buckets":[]})";
  auto summary = [&](const std::string& shard) {
    return R"({"shard":")" + shard +
           R"(","total":1,"ok":1,"failed":0,"invalid":0,"skipped":0,"attempts":1,"retries":0,)"
           R"("latencyHistogram":)" +
           histogram + R"(,"serviceHistogram":)" + histogram + "}";
  };
  write_file(s1, summary("1/3"));
  write_file(s2, summary("2/3"));
  CHECK(merge({"--summaries", s1, s2, "--summary-json", sm}) == 2);
  CHECK(read_file(dir.path("merge.err")).find("no summary of shard 3/3") != std::string::npos);
  write_file(s2, R"({"shard":"2/2","total":1,"ok":1,"failed":0,"invalid":0,"skipped":0,)"
                 R"("attempts":1,"retries":0,"latencyMs":{"p50":1}})");
  write_file(s1, summary("1/2"));
  CHECK(merge({"--summaries", s1, s2, "--summary-json", sm}) == 2);
  CHECK(read_file(dir.path("merge.err")).find(s2 + ": no \"latencyHistogram\"") !=
        std::string::npos);
  CHECK(read_file(sm).empty());
  write_file(s2, summary("2/2"));
  CHECK(merge({"--summaries", s1, s2, "--summary-json", sm}) == 0);
  CHECK(parse_object(read_file(sm)).at("total") == 2);
}
