// jobpatch-mock's capacity model on a fake clock: K at once, FIFO, the queue's limit,
// refusal, capacity changes down and up, and a check against a tick-by-tick simulation.

#include "mock/capacity_model.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

using namespace jobpatch::mock;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using tp = clock_type::time_point;

namespace {

const tp t0 = tp(100s); // when the mock started listening

capacity_options options(unsigned k, std::chrono::milliseconds s, std::size_t q,
                         std::vector<capacity_change> changes = {}) {
  capacity_options o;
  o.limit = k;
  o.service = s;
  o.queue = q;
  o.changes = std::move(changes);
  return o;
}

} // namespace

TEST_CASE("capacity: K requests start at once, the next one waits or is refused") {
  capacity_model model(options(3, 100ms, 0), t0);
  for (int i = 0; i < 3; ++i) {
    auto r = model.arrive(t0 + 1ms);
    CHECK(r.verdict == admission::at_once);
    CHECK(r.start == t0 + 1ms);
    CHECK(r.done == t0 + 101ms);
  }
  CHECK(model.arrive(t0 + 2ms).verdict == admission::rejected); // Q = 0
  CHECK(model.arrive(t0 + 100ms).verdict == admission::rejected);
  // Service ends at 101 ms: all three places are free again, at that very instant.
  for (int i = 0; i < 3; ++i) CHECK(model.arrive(t0 + 101ms).verdict == admission::at_once);
  CHECK(model.arrive(t0 + 101ms).verdict == admission::rejected);
  auto report = model.report(t0 + 150ms);
  CHECK(report.limit == 3);
  CHECK(report.at_once == 6);
  CHECK(report.after_queue == 0);
  CHECK(report.rejected == 3);
  CHECK(report.in_service == 3);
  CHECK(report.queued == 0);
  CHECK(report.peak_in_service == 3);
  CHECK(report.peak_queued == 0);
  CHECK(model.report(t0 + 201ms).in_service == 0);
}

TEST_CASE("capacity: the queue is first come first served and holds at most Q") {
  capacity_model model(options(1, 100ms, 3), t0);
  CHECK(model.arrive(t0).verdict == admission::at_once);
  std::vector<tp> starts;
  for (int i = 1; i <= 3; ++i) {
    auto r = model.arrive(t0 + i * 10ms);
    CHECK(r.verdict == admission::queued);
    starts.push_back(r.start);
    CHECK(r.done == r.start + 100ms);
  }
  // Each starts when the one ahead of it is done.
  CHECK(starts == std::vector<tp>{t0 + 100ms, t0 + 200ms, t0 + 300ms});
  CHECK(model.arrive(t0 + 40ms).verdict == admission::rejected); // the queue is full
  auto busy = model.report(t0 + 40ms);
  CHECK(busy.in_service == 1);
  CHECK(busy.queued == 3);
  CHECK(busy.peak_queued == 3);
  // At 100 ms the first waiting one starts: a place in the queue is free, behind the others.
  auto r = model.arrive(t0 + 100ms);
  CHECK(r.verdict == admission::queued);
  CHECK(r.start == t0 + 400ms);
  CHECK(model.arrive(t0 + 100ms).verdict == admission::rejected);
  auto report = model.report(t0 + 100ms);
  CHECK(report.at_once == 1);
  CHECK(report.after_queue == 4);
  CHECK(report.rejected == 2);
  CHECK(report.peak_in_service == 1);
  // Idle again once everything is done: the next one starts at once.
  CHECK(model.arrive(t0 + 500ms).verdict == admission::at_once);
}

TEST_CASE("capacity: with Q = 0 nothing waits, with S = 0 nothing is ever busy") {
  capacity_model none(options(2, 1000ms, 0), t0);
  CHECK(none.arrive(t0).verdict == admission::at_once);
  CHECK(none.arrive(t0).verdict == admission::at_once);
  CHECK(none.arrive(t0 + 999ms).verdict == admission::rejected);
  CHECK(none.arrive(t0 + 1000ms).verdict == admission::at_once);

  capacity_model instant(options(1, 0ms, 0), t0);
  for (int i = 0; i < 100; ++i) {
    auto r = instant.arrive(t0);
    CHECK(r.verdict == admission::at_once);
    CHECK(r.done == t0);
  }
  CHECK(instant.report(t0).peak_in_service == 1);
}

TEST_CASE("capacity: a drop lets requests in service finish, the queue waits for K below") {
  // K 3 -> 1 at 500 ms, S = 1 s.
  capacity_model model(options(3, 1000ms, 5, {{500ms, 1}}), t0);
  for (int i = 0; i < 3; ++i) CHECK(model.arrive(t0).done == t0 + 1000ms);
  CHECK(model.limit_at(t0 + 499ms) == 3);
  CHECK(model.limit_at(t0 + 500ms) == 1);
  // At 600 ms three are in service and K is 1: waits until all three are done.
  auto a = model.arrive(t0 + 600ms);
  CHECK(a.verdict == admission::queued);
  CHECK(a.start == t0 + 1000ms);
  // Then one at a time.
  auto b = model.arrive(t0 + 700ms);
  CHECK(b.start == t0 + 2000ms);
  auto report = model.report(t0 + 700ms);
  CHECK(report.limit == 1);
  CHECK(report.in_service == 3); // above K: they finish
  CHECK(report.queued == 2);
  CHECK(report.changes_made == 1);
  CHECK(report.peak_in_service == 3);
  // A drop that happens while one waits: it waits for the K in force when a place frees.
  capacity_model later(options(2, 1000ms, 5, {{1500ms, 1}}), t0);
  later.arrive(t0);
  later.arrive(t0 + 800ms);
  auto c = later.arrive(t0 + 900ms); // both places busy; at 1000 ms one frees (K still 2)
  CHECK(c.start == t0 + 1000ms);
  auto d = later.arrive(t0 + 950ms); // 1500 ms: K = 1 with two in service until 1800 ms
  CHECK(d.start == t0 + 2000ms);     // ... and one until 2000 ms
}

TEST_CASE("capacity: a raise starts waiting requests at once") {
  // K 1 -> 3 at 500 ms, S = 1 s.
  capacity_model model(options(1, 1000ms, 5, {{500ms, 3}}), t0);
  CHECK(model.arrive(t0).verdict == admission::at_once);
  auto a = model.arrive(t0 + 100ms), b = model.arrive(t0 + 200ms), c = model.arrive(t0 + 300ms);
  CHECK(a.verdict == admission::queued);
  CHECK(a.start == t0 + 500ms); // the raise, not the end of the one in service
  CHECK(b.start == t0 + 500ms);
  CHECK(c.start == t0 + 1000ms); // three in service from 500 ms: the first place frees
  CHECK(model.report(t0 + 500ms).in_service == 3);
  CHECK(model.report(t0 + 500ms).peak_in_service == 3);
  // After the raise a new arrival sees K = 3.
  capacity_model raised(options(1, 1000ms, 0, {{500ms, 3}}), t0);
  raised.arrive(t0);
  CHECK(raised.arrive(t0 + 499ms).verdict == admission::rejected);
  CHECK(raised.arrive(t0 + 500ms).verdict == admission::at_once);
  CHECK(raised.arrive(t0 + 600ms).verdict == admission::at_once);
  CHECK(raised.arrive(t0 + 700ms).verdict == admission::rejected);
}

TEST_CASE("capacity: several changes in any order, counted from the origin") {
  capacity_model model(options(4, 10ms, 0, {{3s, 2}, {1s, 8}, {2500ms, 6}}), t0);
  CHECK(model.limit_at(t0) == 4);
  CHECK(model.limit_at(t0 + 999ms) == 4);
  CHECK(model.limit_at(t0 + 1s) == 8);
  CHECK(model.limit_at(t0 + 2600ms) == 6);
  CHECK(model.limit_at(t0 + 1h) == 2);
  CHECK(model.report(t0 + 2600ms).changes_made == 2);
}

TEST_CASE("capacity: a time earlier than one seen before counts as that one") {
  capacity_model model(options(1, 100ms, 1), t0);
  CHECK(model.arrive(t0 + 50ms).done == t0 + 150ms);
  auto r = model.arrive(t0 + 10ms); // another thread read the clock first
  CHECK(r.verdict == admission::queued);
  CHECK(r.start == t0 + 150ms);
}

TEST_CASE("capacity: options are checked") {
  CHECK(capacity_options_problem(options(1, 0ms, 0)).empty());
  CHECK(!capacity_options_problem(options(0, 10ms, 0)).empty());
  CHECK(!capacity_options_problem(options(max_capacity + 1, 10ms, 0)).empty());
  CHECK(!capacity_options_problem(options(1, -1ms, 0)).empty());
  CHECK(!capacity_options_problem(options(1, 10ms, max_queue + 1)).empty());
  CHECK(!capacity_options_problem(options(1, 10ms, 0, {{1s, 0}})).empty());
  CHECK(capacity_options_problem(options(1, 10ms, 0, {{1s, 2}, {2s, 1}})).empty());
  CHECK(capacity_options_problem(options(1, 10ms, 0, {{1s, 2}, {1000ms, 3}})) ==
        "--capacity-after: two changes at 1000 ms after the start");
  CHECK_THROWS_AS(capacity_model(options(0, 10ms, 0), t0), std::invalid_argument);
}

TEST_CASE("capacity: --capacity-after SECONDS:K parses strictly") {
  std::string error;
  auto a = parse_capacity_change("30:2", error);
  REQUIRE(a);
  CHECK(a->at == 30s);
  CHECK(a->limit == 2);
  auto b = parse_capacity_change("1.5:8", error);
  REQUIRE(b);
  CHECK(b->at == 1500ms);
  CHECK(b->limit == 8);
  auto c = parse_capacity_change("0.025:1", error);
  REQUIRE(c);
  CHECK(c->at == 25ms);
  auto d = parse_capacity_change("604800:1000000", error);
  REQUIRE(d);
  CHECK(d->at == 604800s);
  for (const char* bad : {"",
                          "5",
                          ":2",
                          "5:",
                          "5:0",
                          "-1:2",
                          "+1:2",
                          "a:2",
                          "5:2x",
                          "5:2:3",
                          "1.2.3:4",
                          "1.:4",
                          ".5:4",
                          "1.2345:2",
                          " 5:2",
                          "5: 2",
                          "5:-2",
                          "604801:1",
                          "5:1000001",
                          "99999999999999999999:1",
                          "5:99999999999999999999"}) {
    CAPTURE(bad);
    error.clear();
    CHECK(!parse_capacity_change(bad, error));
    CHECK(!error.empty());
  }
}

namespace {

// The model's rule played tick by tick (1 ms) with an explicit queue: at each tick the
// services ending then finish, the capacity in force is read, waiting requests start while
// places are free, then the tick's arrivals come in, in order.
struct simulated {
  admission verdict;
  int start; // ms; -1 when rejected
};

std::vector<simulated> simulate(const capacity_options& o, const std::vector<int>& arrivals) {
  const int service = static_cast<int>(o.service.count());
  std::vector<simulated> out(arrivals.size(), {admission::rejected, -1});
  std::vector<int> ends; // of those in service
  std::deque<std::size_t> queue;
  std::size_t next = 0;
  for (int t = 0; next < arrivals.size() || !queue.empty(); ++t) {
    std::erase_if(ends, [t](int end) { return end <= t; });
    unsigned limit = o.limit;
    for (const auto& c : o.changes)
      if (c.at.count() <= t) limit = c.limit; // given in time order here
    auto start = [&](std::size_t i) {
      out[i].start = t;
      if (service > 0) ends.push_back(t + service);
    };
    while (!queue.empty() && ends.size() < limit) {
      start(queue.front());
      queue.pop_front();
    }
    for (; next < arrivals.size() && arrivals[next] == t; ++next) {
      if (queue.empty() && ends.size() < limit) {
        out[next].verdict = admission::at_once;
        start(next);
      } else if (queue.size() < o.queue) {
        out[next].verdict = admission::queued;
        queue.push_back(next);
      }
    }
  }
  return out;
}

} // namespace

TEST_CASE("capacity: agrees with a tick-by-tick simulation on random traffic") {
  std::mt19937 rng(2718);
  for (int round = 0; round < 300; ++round) {
    CAPTURE(round);
    unsigned k = 1 + rng() % 4;
    auto s = std::chrono::milliseconds(rng() % 40);
    std::size_t q = rng() % 5;
    std::vector<capacity_change> changes;
    for (int at = 0; at < 400; at += 20 + static_cast<int>(rng() % 150))
      if (at > 0) changes.push_back({std::chrono::milliseconds(at), 1 + unsigned(rng() % 5)});
    auto o = options(k, s, q, changes);
    std::vector<int> arrivals;
    for (int t = 0, n = 0; n < 120; ++n) {
      t += static_cast<int>(rng() % 8); // bursts: several arrivals on one tick
      arrivals.push_back(t);
    }
    auto expected = simulate(o, arrivals);
    capacity_model model(o, t0);
    for (std::size_t i = 0; i < arrivals.size(); ++i) {
      CAPTURE(i);
      auto got = model.arrive(t0 + std::chrono::milliseconds(arrivals[i]));
      REQUIRE(got.verdict == expected[i].verdict);
      if (got.verdict == admission::rejected) continue;
      CHECK(got.start == t0 + std::chrono::milliseconds(expected[i].start));
      CHECK(got.done == got.start + s);
    }
  }
}
