// --resume keyed by content: an update is known by its job, its place among that job's
// updates and its content, not by its line number (issue 11 item 7).

#include "apply_runner.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

std::string jobname_line(const std::string& job, const std::string& name) {
  return R"({"jobId":")" + job + R"(","op":"jobname","body":")" + name + "\"}";
}
std::string configs_line(const std::string& job, int timeout) {
  return R"({"jobId":")" + job + R"(","op":"configs","body":{"taskTimeout":)" +
         std::to_string(timeout) + "}}";
}
std::string job(int n) {
  char id[16];
  std::snprintf(id, sizeof id, "job-%07d", n);
  return id;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  write_file(path, text);
}

// Journal records from index `from` on, as "jobId op body" strings.
std::vector<std::string> journal_since(const mock_process& mock, std::size_t from) {
  std::vector<std::string> out;
  auto records = mock.journal_records();
  for (std::size_t i = from; i < records.size(); ++i) {
    const auto& r = records[i].as_object();
    out.push_back(std::string(r.at("jobId").as_string()) + " " +
                  std::string(r.at("op").as_string()) + " " + json::serialize(r.at("body")));
  }
  return out;
}

json::object summary(const std::string& path) { return json::parse(read_file(path)).as_object(); }

std::uint64_t number(const json::object& o, const char* name) {
  return o.at(name).to_number<std::uint64_t>();
}

} // namespace

TEST_CASE("resume keying: lines of other jobs inserted or removed are not re-sent, reordering a "
          "job's own updates is, a finished run's results do not grow") {
  mock_process mock({}, 20);
  // Jobs 1-8, two updates each (a name, then a timeout), interleaved.
  std::vector<std::string> first;
  for (int i = 1; i <= 8; ++i) {
    std::string name = "n"; // (a "n" + to_string temporary trips g++ 12's -Wrestrict)
    name += std::to_string(i);
    first.push_back(jobname_line(job(i), name));
  }
  for (int i = 1; i <= 8; ++i) first.push_back(configs_line(job(i), 100 + i));
  std::string manifest = mock.path("m.ndjson"), results = mock.path("r.ndjson");
  write_lines(manifest, first);
  REQUIRE(run_apply(mock, manifest, {"--results", results}) == 0);
  std::size_t sent = mock.journal_records().size();
  REQUIRE(sent == 16);

  // Lines of new jobs 11-13 inserted at the top and in the middle; job 8 removed.
  std::vector<std::string> second = {jobname_line(job(11), "new11"), configs_line(job(12), 512)};
  for (const auto& line : first)
    if (line.find(job(8)) == std::string::npos) second.push_back(line);
  second.insert(second.begin() + 9, jobname_line(job(13), "new13"));
  write_lines(manifest, second);
  std::string s2 = mock.path("s2.json");
  int code = run_apply(mock, manifest, {"--results", results, "--resume", "--summary-json", s2});
  INFO(read_file(mock.path("apply.err")));
  CHECK(code == 0);
  auto again = journal_since(mock, sent);
  CHECK(std::set<std::string>(again.begin(), again.end()) ==
        std::set<std::string>{job(11) + " jobname \"new11\"",
                              job(12) + " configs {\"taskTimeout\":512}",
                              job(13) + " jobname \"new13\""});
  CHECK(again.size() == 3);
  CHECK(number(summary(s2), "skipped") == 14);
  CHECK(number(summary(s2), "ok") == 3);
  sent += again.size();

  // Job 3's two updates swapped: both are sent again, in the new order; nothing else.
  std::vector<std::string> third;
  for (const auto& line : second)
    if (line.find(job(3)) == std::string::npos) third.push_back(line);
  third.push_back(configs_line(job(3), 103));
  third.push_back(jobname_line(job(3), "n3"));
  write_lines(manifest, third);
  code = run_apply(mock, manifest, {"--results", results, "--resume"});
  CHECK(code == 0);
  CHECK(journal_since(mock, sent) ==
        std::vector<std::string>{job(3) + " configs {\"taskTimeout\":103}",
                                 job(3) + " jobname \"n3\""});
  sent = mock.journal_records().size();

  // The run is complete: resuming it again sends nothing and appends nothing.
  auto size_before = std::filesystem::file_size(results);
  std::string s4 = mock.path("s4.json");
  code = run_apply(mock, manifest, {"--results", results, "--resume", "--summary-json", s4});
  CHECK(code == 0);
  CHECK(std::filesystem::file_size(results) == size_before);
  CHECK(mock.journal_records().size() == sent);
  CHECK(number(summary(s4), "skipped") == third.size());
  CHECK(number(summary(s4), "total") == third.size());
  // Distinct updates recorded ok: 16 + 3 + job 3's two in their new order (job 8's and
  // job 3's old ones are still recorded, though no longer in the manifest).
  std::string err = read_file(mock.path("apply.err"));
  CHECK(err.find("resuming: 21 lines were recorded ok") != std::string::npos);
  // Records name each update's place in its job.
  auto last = json::parse(read_lines(results).back()).as_object();
  CHECK(last.at("seq").as_int64() == 2);
}

TEST_CASE("resume keying: a job's first update edited, its second kept: --resume sends both, "
          "in order") {
  mock_process mock({}, 5);
  // Jobs 1 and 2, two updates each; job 2 is left alone throughout.
  std::vector<std::string> lines = {jobname_line(job(1), "first"), jobname_line(job(2), "other"),
                                    configs_line(job(1), 101), configs_line(job(2), 201)};
  std::string manifest = mock.path("m.ndjson"), results = mock.path("r.ndjson");
  write_lines(manifest, lines);
  REQUIRE(run_apply(mock, manifest, {"--results", results}) == 0);
  std::size_t sent = mock.journal_records().size();
  REQUIRE(sent == 4);

  // Job 1's first update edited, its second kept (recorded ok, its key unchanged): once an
  // update of a job is sent again, the job's later updates follow it again, in order (the
  // README's Resume section), so the job ends as the manifest says even where they set the
  // same fields.
  lines[0] = jobname_line(job(1), "first-edited");
  write_lines(manifest, lines);
  std::string s2 = mock.path("s2.json");
  int code = run_apply(mock, manifest, {"--results", results, "--resume", "--summary-json", s2});
  INFO(read_file(mock.path("apply.err")));
  CHECK(code == 0);
  CHECK(journal_since(mock, sent) ==
        std::vector<std::string>{job(1) + " jobname \"first-edited\"",
                                 job(1) + " configs {\"taskTimeout\":101}"});
  CHECK(number(summary(s2), "ok") == 2);
  CHECK(number(summary(s2), "skipped") == 2); // job 2's
}

TEST_CASE("resume keying: lines that failed with 400 or 404 are not sent again on --resume, "
          "yet are counted, listed and exit 1, a 404 withholds nothing but a 400 does, and "
          "--retry-failed sends them") {
  mock_process mock({}, 5);
  std::string gone = "job-deleted";
  // The mock refuses an ftp data source with 400 (the client's schema allows it).
  std::string refused =
      R"({"jobId":")" + job(3) +
      R"(","op":"datasource","body":{"dataSource":{"dataSourceDescriptor":"ftp","params":{}}}})";
  std::vector<std::string> lines = {configs_line(job(1), 301),
                                    configs_line(gone, 302),
                                    jobname_line(gone, "after-the-404"),
                                    refused,
                                    jobname_line(job(3), "after-the-400"),
                                    jobname_line(job(2), "x")};
  std::string manifest = mock.path("m.ndjson"), results = mock.path("r.ndjson");
  write_lines(manifest, lines);
  CHECK(run_apply(mock, manifest, {"--results", results}) == 1);
  CHECK(read_file(mock.path("apply.err"))
            .find("3 lines failed with HTTP 400/403/404: --resume does not send them again") !=
        std::string::npos);
  auto answered = [&](const char* op, const char* status) {
    return mock.stats().at("requests").at(op).at(status).to_number<std::uint64_t>();
  };
  // The update after the 404 was sent and answered 404 itself; the one after the 400 was
  // withheld.
  REQUIRE(answered("configs", "404") == 1);
  REQUIRE(answered("jobname", "404") == 1);
  REQUIRE(answered("datasource", "400") == 1);
  {
    auto records = read_lines(results);
    REQUIRE(records.size() == lines.size());
    std::map<std::int64_t, json::object> by_line;
    for (const auto& r : records) {
      auto o = json::parse(r).as_object();
      by_line[o.at("line").as_int64()] = o;
    }
    CHECK(by_line[3].at("status").as_int64() == 404);
    CHECK(by_line[3].at("attempts").as_int64() == 1);
    CHECK(by_line[5].at("outcome").as_string() == "failed");
    CHECK(by_line[5].if_contains("attempts") == nullptr); // not sent
    CHECK(std::string(by_line[5].at("error").as_string()).find("line 4 of this job failed") !=
          std::string::npos);
    CHECK(by_line[6].at("outcome").as_string() == "ok");
  }
  auto size_before = std::filesystem::file_size(results);

  // The nightly resume: nothing is sent, nothing appended, and the failures are still told.
  std::string failed_out = mock.path("failed.ndjson"), s2 = mock.path("s2.json");
  int code = run_apply(
      mock, manifest,
      {"--results", results, "--resume", "--failed-out", failed_out, "--summary-json", s2});
  std::string err = read_file(mock.path("apply.err"));
  INFO(err);
  CHECK(code == 1);
  CHECK(answered("configs", "404") == 1);
  CHECK(answered("jobname", "404") == 1);
  CHECK(std::filesystem::file_size(results) == size_before);
  auto s = summary(s2);
  CHECK(number(s, "failed") == 4);
  CHECK(number(s, "failedEarlier") == 3);
  CHECK(number(s, "skipped") == 2);
  const auto& by_error = s.at("byError").as_object();
  CHECK(by_error.at("earlier run: HTTP 404 Not Found").to_number<int>() == 2);
  CHECK(by_error.at("earlier run: HTTP 400 Bad Request").to_number<int>() == 1);
  CHECK(by_error.at("withheld (an earlier update of the job failed)").to_number<int>() == 1);
  CHECK(read_lines(failed_out) == std::vector<std::string>{lines[1], lines[2], lines[3], lines[4]});
  CHECK(err.find("3 lines failed for good (HTTP 400/403/404) in earlier runs") !=
        std::string::npos);
  CHECK(err.find("--retry-failed sends them") != std::string::npos);

  // --retry-failed: the 404s and the 400 are asked again and recorded; the withheld line
  // stays withheld and is not recorded a second time.
  code = run_apply(mock, manifest, {"--results", results, "--resume", "--retry-failed"});
  CHECK(code == 1);
  CHECK(answered("configs", "404") == 2);
  CHECK(answered("jobname", "404") == 2);
  CHECK(answered("datasource", "400") == 2);
  CHECK(read_lines(results).size() == lines.size() + 3);
  // Without --resume every line is sent anyway: the flag alone is a mistake.
  CHECK(run_apply(mock, manifest, {"--results", mock.path("r2.ndjson"), "--retry-failed"}) == 2);
  CHECK(answered("configs", "404") == 2);
}
