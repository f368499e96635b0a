#include <jobpatch/policy/job_scheduler.hpp>

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace jobpatch;
using namespace std::chrono;

namespace {
// "job" + std::to_string(n), built by appending: g++ 12 at -O2 warns falsely (-Wrestrict,
// GCC bug 105329) about a literal + std::string temporary.
std::string job_name(const char* prefix, std::uint64_t n) {
  std::string name = prefix;
  name += std::to_string(n);
  return name;
}
} // namespace
using namespace std::chrono_literals;
using tp = steady_clock::time_point;

namespace {
const tp t0 = tp(10s);

std::vector<std::uint64_t> drain_ready(job_scheduler& s, tp now) {
  std::vector<std::uint64_t> out;
  while (auto h = s.next(now)) out.push_back(*h);
  return out;
}
} // namespace

TEST_CASE("job_scheduler: an empty scheduler has nothing to hand out") {
  job_scheduler s;
  CHECK(s.empty());
  CHECK(s.size() == 0);
  CHECK_FALSE(s.next(t0));
  CHECK_FALSE(s.next_due());
}

TEST_CASE("job_scheduler: different jobs are handed out at once, in push order") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "b");
  s.push(3, "c");
  CHECK(s.size() == 3);
  CHECK(drain_ready(s, t0) == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("job_scheduler: updates of one job go one at a time, in push order") {
  job_scheduler s;
  s.push(10, "job-1");
  s.push(11, "job-1");
  s.push(12, "job-2");
  s.push(13, "job-1");
  CHECK(drain_ready(s, t0) == std::vector<std::uint64_t>{10, 12}); // 11 waits behind 10
  s.complete(12);
  CHECK_FALSE(s.next(t0)); // job-2 had nothing more, job-1 is still in flight
  s.complete(10);
  CHECK(s.next(t0) == 11u);
  CHECK_FALSE(s.next(t0)); // 13 waits behind 11
  s.complete(11);
  CHECK(s.next(t0) == 13u);
  s.complete(13);
  CHECK(s.empty());
}

TEST_CASE("job_scheduler: a deferred retry blocks its job's successors until done") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "a");
  s.push(3, "b");
  CHECK(s.next(t0) == 1u);
  s.defer(1, t0 + 100ms);
  CHECK(s.deferred_count() == 1);
  CHECK(s.next_due() == t0 + 100ms);
  CHECK(s.next(t0) == 3u);         // another job proceeds
  CHECK_FALSE(s.next(t0 + 99ms));  // 1 not due, 2 blocked behind it
  CHECK(s.next(t0 + 100ms) == 1u); // due at exactly ready_at
  CHECK_FALSE(s.next_due());
  CHECK_FALSE(s.next(t0 + 1s));
  s.complete(1);
  CHECK(s.next(t0 + 1s) == 2u);
}

TEST_CASE("job_scheduler: due retries are preferred to fresh updates") {
  job_scheduler s;
  s.push(1, "a");
  CHECK(s.next(t0) == 1u);
  s.defer(1, t0 + 1s);
  s.push(2, "b");
  s.push(3, "c");
  CHECK(s.next(t0 + 2s) == 1u);
  CHECK(s.next(t0 + 2s) == 2u);
  CHECK(s.next(t0 + 2s) == 3u);
}

TEST_CASE("job_scheduler: deferred updates come back earliest first, FIFO on ties") {
  job_scheduler s;
  for (std::uint64_t h = 1; h <= 5; ++h) s.push(h, job_name("job", h));
  CHECK(drain_ready(s, t0).size() == 5);
  s.defer(1, t0 + 3s);
  s.defer(2, t0 + 1s);
  s.defer(3, t0 + 2s);
  s.defer(4, t0 + 1s);
  s.defer(5, t0 + 1s);
  CHECK(s.next_due() == t0 + 1s);
  CHECK(drain_ready(s, t0 + 10s) == std::vector<std::uint64_t>{2, 4, 5, 3, 1});
}

TEST_CASE("job_scheduler: an update can be deferred again and again") {
  job_scheduler s;
  s.push(7, "x");
  s.push(8, "x");
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(s.next(t0 + i * 1s) == 7u);
    s.defer(7, t0 + (i + 1) * 1s - 1ms);
    CHECK_FALSE(s.next(t0 + i * 1s)); // 8 stays blocked
  }
  REQUIRE(s.next(t0 + 10s) == 7u);
  s.complete(7);
  CHECK(s.next(t0 + 10s) == 8u);
}

TEST_CASE("job_scheduler: misuse is reported, not silently accepted") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "a");
  CHECK_THROWS_AS(s.push(1, "b"), std::logic_error); // duplicate handle
  CHECK_THROWS_AS(s.complete(1), std::logic_error);  // not handed out yet
  CHECK_THROWS_AS(s.defer(2, t0), std::logic_error); // waiting behind 1
  CHECK_THROWS_AS(s.complete(99), std::logic_error); // unknown
  REQUIRE(s.next(t0) == 1u);
  s.defer(1, t0 + 1s);
  CHECK_THROWS_AS(s.complete(1), std::logic_error); // deferred, not in flight
  CHECK_THROWS_AS(s.defer(1, t0), std::logic_error);
  CHECK(s.size() == 2); // nothing changed by the failed calls
  REQUIRE(s.next(t0 + 1s) == 1u);
  s.complete(1);
  s.push(1, "b"); // a completed handle may be reused
  CHECK(s.size() == 2);
}

// The engine's handles are small slot numbers, looked up in a table; any other value is
// an opaque handle too and behaves the same.
TEST_CASE("job_scheduler: handles of any value, near the window or far beyond it") {
  job_scheduler s(2);
  const std::vector<std::uint64_t> handles = {0, 1, 7, 1031, 1032, 5000, 1ull << 40, UINT64_MAX};
  for (std::size_t k = 0; k < handles.size(); ++k) s.push(handles[k], job_name("j", k % 3));
  for (std::uint64_t h : handles) {
    CHECK_THROWS_AS(s.push(h, "other"), std::logic_error); // held: a duplicate
    CHECK_THROWS_AS(s.complete(h), std::logic_error);      // not handed out yet
  }
  for (std::uint64_t unknown : std::vector<std::uint64_t>{2, 1033, (1ull << 40) + 1})
    CHECK_THROWS_AS(s.complete(unknown), std::logic_error);
  CHECK(s.size() == handles.size());
  // Per job in push order: j0 holds 0, 1031, 1 << 40; j1 holds 1, 1032, UINT64_MAX; j2 the rest.
  std::vector<std::uint64_t> order;
  while (!s.empty()) {
    auto batch = drain_ready(s, t0);
    REQUIRE_FALSE(batch.empty());
    for (std::uint64_t h : batch) {
      CHECK_FALSE(s.withheld(h));
      s.complete(h);
      CHECK_THROWS_AS(s.complete(h), std::logic_error); // released
      order.push_back(h);
    }
  }
  CHECK(order == std::vector<std::uint64_t>{0, 1, 7, 1031, 1032, 5000, 1ull << 40, UINT64_MAX});
  // Released handles may be pushed again, in either range.
  s.push(UINT64_MAX, "a");
  s.push(0, "a");
  CHECK(drain_ready(s, t0) == std::vector<std::uint64_t>{UINT64_MAX});
  s.fail_job(UINT64_MAX, 12, 400);
  s.complete(UINT64_MAX);
  CHECK(s.next(t0) == 0u);
  CHECK(s.withheld(0) == 12u);
}

TEST_CASE("job_scheduler: job ids are copied, compared exactly, and may be empty") {
  job_scheduler s;
  {
    std::string id = "job-with-a-long-id-0000000000000000000001";
    s.push(1, id);
    id[0] = 'X'; // the caller's storage changes or goes away
  }
  s.push(2, "job-with-a-long-id-0000000000000000000001");
  s.push(3, "Job-with-a-long-id-0000000000000000000001"); // differs in case: another job
  s.push(4, "");
  s.push(5, "");
  CHECK(drain_ready(s, t0) == std::vector<std::uint64_t>{1, 3, 4});
  s.complete(4);
  CHECK(s.next(t0) == 5u);
}

TEST_CASE("job_scheduler: the window is advisory and storage grows past it") {
  job_scheduler s(4);
  for (std::uint64_t h = 0; h < 4; ++h) s.push(h, job_name("j", h % 2));
  for (std::uint64_t h = 4; h < 100; ++h) s.push(h, job_name("j", h));
  CHECK(s.size() == 100);
  CHECK(drain_ready(s, t0).size() == 98); // j0 and j1 each hold one back
  job_scheduler zero(0);                  // a window of at least 1
  zero.push(1, "a");
  CHECK(zero.next(t0) == 1u);
}

TEST_CASE("job_scheduler: randomized run keeps per-job order and exclusivity") {
  // A model check: random pushes, hand-outs, retries and completions over a few jobs,
  // compared against the rules (order per job, one current update per job, nothing lost).
  std::mt19937_64 rng(2024);
  job_scheduler s(64);
  std::map<std::string, std::vector<std::uint64_t>> pushed, completed;
  std::map<std::uint64_t, std::string> job_of;
  std::set<std::string> in_flight_jobs, deferred_jobs;
  std::map<std::uint64_t, tp> deferred_until;
  std::set<std::uint64_t> tried;        // deferred at least once: never held or withheld
  std::set<std::string> failed_jobs;    // fail_job was called for them
  std::map<std::string, tp> hold_until; // the latest hold_job end per job
  std::vector<std::uint64_t> in_flight;
  std::uint64_t next_handle = 0;
  tp now = t0;
  std::size_t done = 0, retried = 0;
  for (int step = 0; step < 200000; ++step) {
    now += microseconds(rng() % 500);
    int action = static_cast<int>(rng() % 10);
    if (action < 3 && s.size() < 64 && next_handle < 20000) {
      std::string job =
          job_name("job-", rng() % 13 + (next_handle / 2000) * 13); // few at a time: long chains
      s.push(next_handle, job);
      pushed[job].push_back(next_handle);
      job_of[next_handle] = job;
      ++next_handle;
    } else if (action < 6) {
      if (auto h = s.next(now)) {
        const std::string& job = job_of[*h];
        if (auto d = deferred_until.find(*h); d != deferred_until.end()) {
          REQUIRE(d->second <= now); // never before it is due
          deferred_until.erase(d);
          deferred_jobs.erase(job);
          ++retried;
        } else {
          REQUIRE_MESSAGE(deferred_jobs.count(job) == 0, "overtook a retry of ", job);
        }
        bool untried = tried.count(*h) == 0;
        REQUIRE(s.withheld(*h).has_value() == (untried && failed_jobs.count(job) > 0));
        if (untried && failed_jobs.count(job) == 0 && hold_until.count(job))
          REQUIRE_MESSAGE(hold_until[job] <= now, "an update of ", job, " left during its hold");
        REQUIRE_MESSAGE(in_flight_jobs.insert(job).second, "two updates of ", job, " at once");
        REQUIRE(pushed[job][completed[job].size()] == *h); // the job's oldest open update
        in_flight.push_back(*h);
      } else {
        // Nothing handed out: then no retry may be due.
        for (auto& [h, at] : deferred_until) REQUIRE(at > now);
      }
    } else if (!in_flight.empty()) {
      std::size_t k = rng() % in_flight.size();
      std::uint64_t h = in_flight[k];
      in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(k));
      in_flight_jobs.erase(job_of[h]);
      if (rng() % 8 == 0) {
        tp until = now + microseconds(rng() % 8000);
        s.hold_job(h, until);
        hold_until[job_of[h]] = std::max(hold_until[job_of[h]], until);
      }
      if (action < 8) {
        tp at = now + microseconds(rng() % 5000);
        tried.insert(h);
        s.defer(h, at);
        deferred_until[h] = at;
        deferred_jobs.insert(job_of[h]);
      } else {
        if (rng() % 32 == 0) {
          // Half of the failures are 404s (no such job): they withhold nothing.
          int status = rng() % 2 ? 404 : (rng() % 2 ? 400 : 0);
          s.fail_job(h, h, status);
          if (status != 404) failed_jobs.insert(job_of[h]);
        }
        s.complete(h);
        completed[job_of[h]].push_back(h);
        ++done;
      }
    }
    REQUIRE(s.deferred_count() >= deferred_until.size()); // plus updates waiting for a hold
  }
  CHECK(done > 5000);
  CHECK(retried > 1000);
  for (auto& [job, list] : completed)
    CHECK(std::equal(list.begin(), list.end(), pushed[job].begin()));
  CHECK(s.size() == next_handle - done);
}

TEST_CASE("job_scheduler: after a failure, the job's later updates are handed out withheld") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "a");
  s.push(3, "b");
  s.push(4, "a");
  CHECK(drain_ready(s, t0) == std::vector<std::uint64_t>{1, 3});
  CHECK_FALSE(s.withheld(1));
  s.fail_job(1, 17, 400); // manifest line 17 failed for good
  s.complete(1);
  CHECK(s.next(t0) == 2u);
  CHECK(s.withheld(2) == 17u); // names the line that failed first
  s.fail_job(2, 18, 0);        // recording the withheld line failed changes nothing
  s.complete(2);
  CHECK(s.next(t0) == 4u);
  CHECK(s.withheld(4) == 17u);
  s.complete(4);
  CHECK_FALSE(s.withheld(3)); // other jobs are sent
  s.complete(3);
  s.push(5, "a"); // for the rest of the run, whenever the line comes
  CHECK(s.next(t0 + 1h) == 5u);
  CHECK(s.withheld(5) == 17u);
  CHECK_THROWS_AS(s.fail_job(99, 1, 400), std::logic_error);
  CHECK_THROWS_AS(s.fail_job(99, 1, 404), std::logic_error);
}

TEST_CASE("job_scheduler: a retry is never withheld, only untried updates") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "b");
  CHECK(s.next(t0) == 1u);
  CHECK(s.next(t0) == 2u);
  s.defer(1, t0 + 1s); // job a's update will be tried again
  s.fail_job(2, 2, 403);
  s.complete(2);
  CHECK(s.next(t0 + 1s) == 1u);
  CHECK_FALSE(s.withheld(1));
}

TEST_CASE("job_scheduler: many failed jobs are remembered, their lines beyond the cache as 0") {
  job_scheduler s;
  constexpr std::uint64_t jobs = 20000;
  for (std::uint64_t h = 0; h < jobs; ++h) {
    s.push(h, "job-" + std::to_string(h));
    REQUIRE(s.next(t0) == h);
    s.fail_job(h, h + 1, 400);
    s.complete(h);
  }
  std::uint64_t named = 0;
  for (std::uint64_t h = 0; h < jobs; ++h) {
    s.push(jobs + h, "job-" + std::to_string(h));
    REQUIRE(s.next(t0) == jobs + h);
    auto line = s.withheld(jobs + h);
    REQUIRE(line);
    if (*line) {
      CHECK(*line == h + 1); // never another job's line
      ++named;
    }
    s.complete(jobs + h);
  }
  CHECK(named > 0);
  CHECK(named <= 1024); // the fixed cache of recent failures
  s.push(2 * jobs, "job-healthy");
  REQUIRE(s.next(t0) == 2 * jobs);
  CHECK_FALSE(s.withheld(2 * jobs));
}

TEST_CASE("job_scheduler: a hold keeps the job's untried updates back until it ends") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "a");
  s.push(3, "b");
  CHECK(s.next(t0) == 1u);
  s.hold_job(1, t0 + 5s); // line 1 went unanswered: it may still be applied
  s.defer(1, t0 + 1s);    // and is retried
  CHECK(s.next(t0) == 3u);
  CHECK(s.next(t0 + 1s) == 1u); // its own retry is not held
  s.complete(1);
  CHECK_FALSE(s.next(t0 + 1s)); // 2 waits for the hold to end
  CHECK(s.settle_waits() == 1);
  CHECK(s.next_due() == t0 + 5s);
  CHECK_FALSE(s.next(t0 + 5s - 1ms));
  CHECK(s.next(t0 + 5s) == 2u);
  CHECK_FALSE(s.withheld(2));
  CHECK(s.settle_waits() == 1);
}

TEST_CASE("job_scheduler: a later hold extends an earlier one, and holds end by time") {
  job_scheduler s;
  s.push(1, "a");
  CHECK(s.next(t0) == 1u);
  s.hold_job(1, t0 + 5s);
  s.hold_job(1, t0 + 8s);
  s.hold_job(1, t0 + 2s); // an earlier end does not shorten it
  s.complete(1);
  s.push(2, "a");
  CHECK_FALSE(s.next(t0 + 5s)); // the first hold's end passed, the later one holds
  CHECK(s.next(t0 + 8s) == 2u);
  s.complete(2);
  // The hold has ended: a new update of the job goes at once, without waiting.
  s.push(3, "a");
  CHECK(s.next(t0 + 9s) == 3u);
  CHECK(s.settle_waits() == 1);
}

TEST_CASE("job_scheduler: a failed job's updates are withheld, not held") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "a");
  CHECK(s.next(t0) == 1u);
  s.hold_job(1, t0 + 5s);
  s.fail_job(1, 1, 0);
  s.complete(1);
  CHECK(s.next(t0) == 2u); // at once, to be recorded failed
  CHECK(s.withheld(2) == 1u);
  CHECK(s.settle_waits() == 0);
}

TEST_CASE("job_scheduler: a 404 withholds nothing, other failures do") {
  CHECK_FALSE(job_scheduler::failure_withholds(404));
  for (int status : {0, 400, 403, 409, 422, 500, 502})
    CHECK(job_scheduler::failure_withholds(status));
  job_scheduler s;
  s.push(1, "gone");
  s.push(2, "gone");
  s.push(3, "bad");
  s.push(4, "bad");
  CHECK(s.next(t0) == 1u);
  CHECK(s.next(t0) == 3u);
  s.fail_job(1, 1, 404); // no such job: its next update is sent and answers for itself
  s.complete(1);
  s.fail_job(3, 3, 400);
  s.complete(3);
  CHECK(s.next(t0) == 2u);
  CHECK_FALSE(s.withheld(2));
  CHECK(s.next(t0) == 4u);
  CHECK(s.withheld(4) == 3u);
}

TEST_CASE("job_scheduler: many jobs failed 404: none of their later updates is withheld") {
  job_scheduler s(64);
  for (std::uint64_t h = 0; h < 20000; ++h) {
    s.push(h, job_name("gone-", h));
    REQUIRE(s.next(t0) == h);
    s.fail_job(h, h + 1, 404);
    s.complete(h);
  }
  s.push(1u << 30, job_name("gone-", 7));
  CHECK(s.next(t0) == 1u << 30);
  CHECK_FALSE(s.withheld(1u << 30));
}

TEST_CASE("job_scheduler: on --resume, a line failed 404 before withholds nothing") {
  job_scheduler s;
  s.fail_job("gone", 5, 404);
  s.fail_job("bad", 6, 403);
  s.push(1, "gone");
  s.push(2, "bad");
  CHECK(s.next(t0) == 1u);
  CHECK_FALSE(s.withheld(1));
  CHECK(s.next(t0) == 2u);
  CHECK(s.withheld(2) == 6u);
}
