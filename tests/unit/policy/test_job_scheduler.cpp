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
  CHECK(s.window() == job_scheduler::default_window);
  CHECK(s.has_room());
}

TEST_CASE("job_scheduler: different jobs are handed out at once, in push order") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "b");
  s.push(3, "c");
  CHECK(s.size() == 3);
  CHECK(s.job_count() == 3);
  CHECK(drain_ready(s, t0) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(s.in_flight_count() == 3);
  CHECK(s.ready_count() == 0);
}

TEST_CASE("job_scheduler: updates of one job go one at a time, in push order") {
  job_scheduler s;
  s.push(10, "job-1");
  s.push(11, "job-1");
  s.push(12, "job-2");
  s.push(13, "job-1");
  CHECK(s.job_count() == 2);
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
  CHECK(s.job_count() == 0);
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
  CHECK(s.job_count() == 3);
  CHECK(drain_ready(s, t0) == std::vector<std::uint64_t>{1, 3, 4});
  s.complete(4);
  CHECK(s.next(t0) == 5u);
}

TEST_CASE("job_scheduler: the window is advisory and storage grows past it") {
  job_scheduler s(4);
  CHECK(s.window() == 4);
  for (std::uint64_t h = 0; h < 4; ++h) s.push(h, job_name("j", h % 2));
  CHECK_FALSE(s.has_room());
  for (std::uint64_t h = 4; h < 100; ++h) s.push(h, job_name("j", h));
  CHECK(s.size() == 100);
  CHECK(drain_ready(s, t0).size() == 98); // j0 and j1 each hold one back
  job_scheduler zero(0);
  CHECK(zero.window() == 1);
}

TEST_CASE("job_scheduler: take_waiting removes all but the in-flight updates") {
  job_scheduler s;
  s.push(1, "a");
  s.push(2, "a");
  s.push(3, "b");
  s.push(4, "c");
  s.push(5, "c");
  CHECK(s.next(t0) == 1u); // a in flight, 2 waiting behind it
  CHECK(s.next(t0) == 3u);
  s.defer(3, t0 + 1s); // b deferred
  auto taken = s.take_waiting();
  CHECK(std::multiset<std::uint64_t>(taken.begin(), taken.end()) ==
        std::multiset<std::uint64_t>{2, 3, 4, 5});
  CHECK(s.size() == 1);
  CHECK(s.job_count() == 1);
  CHECK_FALSE(s.next(t0 + 5s));
  CHECK_FALSE(s.next_due());
  s.complete(1);
  CHECK(s.empty());
  CHECK(s.job_count() == 0);
  // Usable afterwards.
  s.push(2, "a");
  CHECK(s.next(t0) == 2u);
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
  std::vector<std::uint64_t> in_flight;
  std::uint64_t next_handle = 0;
  tp now = t0;
  std::size_t done = 0, retried = 0;
  for (int step = 0; step < 200000; ++step) {
    now += microseconds(rng() % 500);
    int action = static_cast<int>(rng() % 10);
    if (action < 3 && s.size() < 64 && next_handle < 20000) {
      std::string job = job_name("job-", rng() % 13); // few jobs: long chains
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
      if (action < 8) {
        tp at = now + microseconds(rng() % 5000);
        s.defer(h, at);
        deferred_until[h] = at;
        deferred_jobs.insert(job_of[h]);
      } else {
        s.complete(h);
        completed[job_of[h]].push_back(h);
        ++done;
      }
    }
    REQUIRE(s.in_flight_count() == in_flight.size());
    REQUIRE(s.deferred_count() == deferred_until.size());
  }
  CHECK(done > 5000);
  CHECK(retried > 1000);
  for (auto& [job, list] : completed)
    CHECK(std::equal(list.begin(), list.end(), pushed[job].begin()));
  CHECK(s.size() == next_handle - done);
}
