#include <jobpatch/stats/concurrency_record.hpp>
#include <jobpatch/text/json_writer.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;

namespace {
std::string json_of(const concurrency_record& r) {
  std::string out;
  json_writer json(out);
  json.begin_object();
  r.write_json(json);
  json.end_object();
  return out;
}
} // namespace

TEST_CASE("concurrency_record: final, least and greatest limits and the series") {
  concurrency_record r;
  r.start(2, true);
  r.record(0.5, 4);
  r.record(1.0, 8);
  r.record(1.0, 8); // no change: no point
  r.record(2.0, 3);
  CHECK(r.current() == 3);
  CHECK(r.least() == 2);
  CHECK(r.most() == 8);
  CHECK(json_of(r) == R"({"concurrency":{"mode":"auto","final":3,"min":2,"max":8,)"
                      R"("series":[[0,2],[0.5,4],[1,8],[2,3]]}})");
}

TEST_CASE("concurrency_record: changes closer than the spacing keep the newer value") {
  concurrency_record r;
  r.start(16, false);
  r.record(1.00, 4);
  r.record(1.05, 5); // within 0.1 s of the last point: replaces it
  r.record(1.30, 6);
  REQUIRE(r.series().size() == 3);
  CHECK(r.series()[1].limit == 5);
  CHECK(r.series()[0].limit == 16); // the start is never replaced
  concurrency_record early;
  early.start(1, true);
  early.record(0.01, 2);
  REQUIRE(early.series().size() == 2);
  CHECK(early.series()[0].limit == 1);
  CHECK(r.series()[1].at_seconds == doctest::Approx(1.0));
  CHECK(r.least() == 4); // the replaced value still counts for the range
}

TEST_CASE("concurrency_record: a long run keeps at most max_points, the start and the last") {
  concurrency_record r;
  r.start(1, true);
  for (int i = 1; i <= 100'000; ++i) r.record(i * 0.2, 1 + static_cast<unsigned>(i % 7));
  CHECK(r.series().size() <= concurrency_record::max_points);
  CHECK(r.series().size() > concurrency_record::max_points / 4);
  CHECK(r.series().front().at_seconds == 0);
  CHECK(r.series().front().limit == 1);
  for (std::size_t i = 1; i < r.series().size(); ++i)
    CHECK(r.series()[i].at_seconds > r.series()[i - 1].at_seconds);
  CHECK(r.series().back().at_seconds > 19'000);
}

TEST_CASE("concurrency_record: operator changes are listed, then only counted") {
  concurrency_record r;
  r.start(4, false);
  CHECK(json_of(r).find("controlChanges") == std::string::npos);
  r.record_change(1.5, "pause");
  r.record_change(2.25, "rate 400");
  CHECK(json_of(r).ends_with(R"("controlChanges":[{"atSeconds":1.5,"change":"pause"},)"
                             R"({"atSeconds":2.25,"change":"rate 400"}]})"));
  for (std::size_t i = 0; i < concurrency_record::max_changes; ++i) r.record_change(3, "resume");
  CHECK(r.changes().size() == concurrency_record::max_changes);
  CHECK(r.changes_dropped() == 2);
  CHECK(json_of(r).ends_with(R"("controlChangesNotListed":2})"));
}
