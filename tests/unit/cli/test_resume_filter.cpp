#include "cli/resume_filter.hpp"

#include <doctest/doctest.h>

#include "unit/temp_files.hpp"

#include <cstdio>
#include <string>
#include <vector>

using namespace jobpatch;
using namespace jobpatch::test;

namespace {
// The record an earlier run wrote for update `seq` of `job` setting its name to `name`.
std::string record(int line, const char* job, std::uint32_t seq, const char* name,
                   const char* outcome, int status) {
  char fp[17];
  std::snprintf(fp, sizeof fp, "%016llx",
                static_cast<unsigned long long>(
                    fingerprint_of(seq, job, op_kind::jobname, "\"" + std::string(name) + "\"")));
  return "{\"line\":" + std::to_string(line) + ",\"jobId\":\"" + job +
         "\",\"op\":\"jobname\",\"seq\":" + std::to_string(seq) + ",\"outcome\":\"" + outcome +
         "\",\"status\":" + std::to_string(status) + ",\"attempts\":1,\"fp\":\"" + fp + "\"}\n";
}

std::string line(const char* job, const char* name) {
  return std::string("{\"jobId\":\"") + job + "\",\"op\":\"jobname\",\"body\":\"" + name + "\"}\n";
}

struct marks {
  std::string job;
  bool applied, changed, withheld;
  int failed_before;
};

std::vector<marks> read_marked(const std::string& manifest, update_filter* filter) {
  line_source::options o;
  o.filter = filter;
  auto path = temp_file(manifest);
  line_source source(manifest_reader::open(path), o);
  std::vector<marks> out;
  source_item item;
  while (source.next(item)) {
    REQUIRE(item.valid);
    out.push_back({item.op.job_id, item.already_applied, item.changed, item.withheld_before,
                   item.failed_before});
  }
  std::remove(path.c_str());
  return out;
}
} // namespace

TEST_CASE("resume_filter: marks each update with what the earlier run recorded of it") {
  auto results =
      temp_file(record(1, "a", 1, "a1", "ok", 200) + record(2, "b", 1, "b1", "ok", 200) +
                record(3, "c", 1, "c1", "failed", 404) + record(4, "d", 1, "d1", "failed", 403) +
                record(5, "b", 2, "b2", "ok", 200));
  std::vector<std::string> notes;
  auto earlier = resume_state::load(results, notes);
  std::string manifest = line("a", "a1") +      // applied before
                         line("b", "changed") + // seq 1 of b differs now
                         line("b", "b2") +      // recorded ok, but b is sent again above
                         line("c", "c1") +      // failed for good before
                         line("e", "e1");       // never recorded
  SUBCASE("without --retry-failed") {
    resume_filter filter(earlier, false);
    auto got = read_marked(manifest, &filter);
    REQUIRE(got.size() == 5);
    CHECK(got[0].applied);
    CHECK_FALSE(got[0].changed);
    CHECK_FALSE(got[1].applied);
    CHECK(got[1].changed);
    // Sent again so that job b ends in manifest order, though recorded ok.
    CHECK_FALSE(got[2].applied);
    CHECK(got[3].failed_before == 404);
    CHECK_FALSE(got[3].applied);
    CHECK_FALSE(got[4].applied);
    CHECK_FALSE(got[4].changed);
    CHECK(got[4].failed_before == 0);
  }
  SUBCASE("--retry-failed sends what failed for good") {
    resume_filter filter(earlier, true);
    auto got = read_marked(manifest, &filter);
    REQUIRE(got.size() == 5);
    CHECK(got[3].failed_before == 0);
    CHECK(got[0].applied);
  }
  SUBCASE("no filter: nothing is marked") {
    auto got = read_marked(manifest, nullptr);
    for (const auto& m : got) CHECK_FALSE((m.applied || m.changed || m.failed_before));
  }
  std::remove(results.c_str());
}
