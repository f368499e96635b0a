#include <jobpatch/policy/concurrency_controller.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

using namespace jobpatch;
using namespace std::chrono;
using namespace std::chrono_literals;
using tp = steady_clock::time_point;

// Fixed-size state: nothing to allocate, per answer or ever.
static_assert(std::is_trivially_copyable_v<concurrency_controller>);

namespace {
const tp t0 = tp(100s);

// The mock server of the end-to-end check, as a model: `servers` requests served at once for
// `service` each (times a seeded uniform factor in [1 - jitter, 1 + jitter]), up to `queue`
// more waiting in order, a 503 at once beyond that. `unbounded`: every request served in
// `service` without waiting, however many (a server whose latency does not depend on load).
struct server_model {
  unsigned servers = 4;
  nanoseconds service = 10ms;
  unsigned queue = 32;
  double jitter = 0;
  bool unbounded = false;
  double reject_share = 0; // answered 429 at once, at random, whatever the load
};

// A change of the server at `at` after the start: what it sets, the rest unchanged.
struct server_change {
  nanoseconds at;
  std::optional<unsigned> servers;
  std::optional<nanoseconds> service;
  std::optional<double> reject_share;
};

struct answer_record {
  tp at;
  nanoseconds rtt;
  bool throttled;
};

struct limit_record {
  tp at;
  unsigned limit;
  bool probing;
};

struct sim_options {
  server_model server;
  std::vector<server_change> changes;
  nanoseconds length = 10s;
  // Client and network time per request: half before the server, half after.
  nanoseconds overhead = 200us;
  // Requests the client has work for at once (an application-limited client).
  unsigned work = 1U << 30;
  std::uint64_t seed = 1;
};

struct sim_result {
  std::vector<answer_record> answers;
  std::vector<limit_record> limits; // limit() after each answer (and at the start)
};

// A deterministic discrete-event simulation of a client that keeps limit() requests in
// flight against `server_model`, feeding every answer to the controller.
class simulation {
public:
  simulation(concurrency_controller& controller, const sim_options& options)
      : controller_(controller), options_(options), servers_(options.server.servers),
        service_(options.server.service), reject_share_(options.server.reject_share),
        rng_(options.seed) {}

  sim_result run() {
    now_ = t0;
    result_.limits.push_back({now_, controller_.limit(), controller_.probing()});
    for (std::size_t i = 0; i < options_.changes.size(); ++i)
      push(t0 + options_.changes[i].at, event_kind::change, i);
    send_more();
    const tp end = t0 + options_.length;
    while (!events_.empty() && events_.top().at < end) {
      event e = events_.top();
      events_.pop();
      now_ = e.at;
      handle(e);
    }
    return std::move(result_);
  }

private:
  enum class event_kind { arrive, served, answer, reject, change };
  struct event {
    tp at;
    std::uint64_t order; // ties in the order pushed: the simulation is deterministic
    event_kind kind;
    std::size_t request; // or the change
    bool operator>(const event& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  struct request {
    tp sent;
    unsigned in_flight;
  };

  void push(tp at, event_kind kind, std::size_t request) {
    events_.push({at, next_order_++, kind, request});
  }

  void send_more() {
    while (in_flight_ < std::min(controller_.limit(), options_.work)) {
      ++in_flight_;
      requests_.push_back({now_, in_flight_});
      push(now_ + options_.overhead / 2, event_kind::arrive, requests_.size() - 1);
    }
  }

  nanoseconds service_time() {
    const double j = options_.server.jitter;
    std::uniform_real_distribution<double> factor(1 - j, 1 + j);
    const double f = j > 0 ? factor(rng_) : 1.0;
    return nanoseconds(static_cast<std::int64_t>(static_cast<double>(service_.count()) * f));
  }

  void start_waiting() {
    while (busy_ < servers_ && !waiting_.empty()) {
      ++busy_;
      push(now_ + service_time(), event_kind::served, waiting_.front());
      waiting_.pop_front();
    }
  }

  void handle(const event& e) {
    switch (e.kind) {
    case event_kind::arrive:
      if (reject_share_ > 0 && coin_(rng_) < reject_share_) {
        push(now_ + options_.overhead / 2, event_kind::reject, e.request);
        break;
      }
      if (options_.server.unbounded) {
        push(now_ + service_time(), event_kind::answer, e.request);
        break;
      }
      if (waiting_.size() >= options_.server.queue && busy_ >= servers_) {
        push(now_ + options_.overhead / 2, event_kind::reject, e.request);
        break;
      }
      waiting_.push_back(e.request);
      start_waiting();
      break;
    case event_kind::served:
      --busy_;
      push(now_ + options_.overhead / 2, event_kind::answer, e.request);
      start_waiting();
      break;
    case event_kind::answer:
    case event_kind::reject:
      answer(e.request, e.kind == event_kind::reject);
      break;
    case event_kind::change:
      servers_ = options_.changes[e.request].servers.value_or(servers_);
      service_ = options_.changes[e.request].service.value_or(service_);
      reject_share_ = options_.changes[e.request].reject_share.value_or(reject_share_);
      start_waiting();
      break;
    }
  }

  void answer(std::size_t id, bool throttled) {
    --in_flight_;
    const request& r = requests_[id];
    const nanoseconds rtt = now_ - r.sent;
    controller_.on_answer(rtt, throttled, r.in_flight, now_);
    result_.answers.push_back({now_, rtt, throttled});
    result_.limits.push_back({now_, controller_.limit(), controller_.probing()});
    send_more();
  }

  concurrency_controller& controller_;
  sim_options options_;
  unsigned servers_;
  nanoseconds service_;
  double reject_share_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> coin_{0, 1};
  tp now_;
  std::priority_queue<event, std::vector<event>, std::greater<>> events_;
  std::uint64_t next_order_ = 0;
  std::vector<request> requests_;
  std::deque<std::size_t> waiting_;
  unsigned busy_ = 0;
  unsigned in_flight_ = 0;
  sim_result result_;
};

sim_result simulate(const sim_options& options, const concurrency_config& config = {}) {
  concurrency_controller controller(config);
  return simulation(controller, options).run();
}

// What a stretch of simulated time [from, to) after the start shows.
struct stretch {
  double throughput = 0;     // unthrottled answers per second
  double throttle_share = 0; // 503s among all answers
  double p50_ms = 0;         // median RTT of unthrottled answers
  unsigned max_limit = 0;
  unsigned min_limit = 0; // outside probes
};

stretch measure(const sim_result& r, nanoseconds from, nanoseconds to) {
  stretch s;
  std::vector<nanoseconds> rtts;
  std::size_t all = 0, throttled = 0;
  for (const auto& a : r.answers) {
    if (a.at < t0 + from || a.at >= t0 + to) continue;
    ++all;
    if (a.throttled) {
      ++throttled;
    } else {
      rtts.push_back(a.rtt);
    }
  }
  s.throughput = static_cast<double>(rtts.size()) / duration<double>(to - from).count();
  s.throttle_share = all > 0 ? static_cast<double>(throttled) / static_cast<double>(all) : 0;
  if (!rtts.empty()) {
    auto mid = rtts.begin() + static_cast<std::ptrdiff_t>(rtts.size() / 2);
    std::nth_element(rtts.begin(), mid, rtts.end());
    s.p50_ms = duration<double, std::milli>(*mid).count();
  }
  s.min_limit = ~0U;
  for (const auto& l : r.limits) {
    if (l.at < t0 + from || l.at >= t0 + to) continue;
    s.max_limit = std::max(s.max_limit, l.limit);
    if (!l.probing) s.min_limit = std::min(s.min_limit, l.limit);
  }
  return s;
}

double capacity(unsigned servers, nanoseconds service) {
  return servers / duration<double>(service).count();
}

// JOBPATCH_SIM_REPORT=1 prints each scenario's figures (for tuning and the commit message).
void report(const std::string& name, const stretch& s, double cap) {
  if (std::getenv("JOBPATCH_SIM_REPORT") == nullptr) return;
  std::printf("%-40s throughput %.3f of capacity, 503s %.4f, p50 %.2f ms, limit %u..%u\n",
              name.c_str(), s.throughput / cap, s.throttle_share, s.p50_ms, s.min_limit,
              s.max_limit);
}

// How long after `from` the limit first reaches `at_least` (outside probes); a day if never.
nanoseconds time_to_reach(const sim_result& r, nanoseconds from, unsigned at_least) {
  for (const auto& l : r.limits)
    if (l.at >= t0 + from && !l.probing && l.limit >= at_least) return l.at - t0 - from;
  return 24h;
}

void report_time(const std::string& what, nanoseconds t) {
  if (std::getenv("JOBPATCH_SIM_REPORT") != nullptr)
    std::printf("%s: %.1f ms\n", what.c_str(), duration<double, std::milli>(t).count());
}

// How long after `from` the 503 share of every half second (sliding by 10 ms) until `to`
// stays below `share`.
nanoseconds settled_after(const sim_result& r, nanoseconds from, nanoseconds to, double share) {
  nanoseconds settled = to - 500ms;
  for (nanoseconds t = to - 500ms; t >= from; t -= 10ms) {
    if (measure(r, t, t + 500ms).throttle_share >= share) break;
    settled = t;
  }
  return settled - from;
}

void check_knee(const server_model& server, const std::string& name, std::uint64_t seed = 1) {
  sim_options o;
  o.server = server;
  o.seed = seed;
  const auto r = simulate(o);
  const double cap = capacity(server.servers, server.service);
  const stretch steady = measure(r, 2s, o.length);
  const stretch whole = measure(r, 0s, o.length);
  report(name, steady, cap);
  CHECK(steady.throughput >= 0.9 * cap);
  CHECK(whole.throttle_share <= 0.01);
  CHECK(steady.p50_ms <= 2 * duration<double, std::milli>(server.service).count() + 5);
  CHECK(steady.max_limit <= 3 * server.servers);
}
} // namespace

TEST_CASE("concurrency_controller: a knee at K=4, S=10 ms: full throughput, a small queue") {
  check_knee({4, 10ms, 32}, "knee K=4 S=10ms Q=32");
}

TEST_CASE("concurrency_controller: a knee at K=16, S=5 ms and at K=1, S=10 ms") {
  check_knee({16, 5ms, 32}, "knee K=16 S=5ms Q=32");
  check_knee({1, 10ms, 32}, "knee K=1 S=10ms Q=32");
  check_knee({8, 50ms, 8}, "knee K=8 S=50ms Q=8");
}

TEST_CASE("concurrency_controller: latency with +-30% jitter still meets the knee targets") {
  for (std::uint64_t seed : {1U, 2U, 3U}) {
    check_knee({4, 10ms, 32, 0.3}, "jitter 30% K=4 S=10ms seed " + std::to_string(seed), seed);
    check_knee({16, 5ms, 32, 0.3}, "jitter 30% K=16 S=5ms seed " + std::to_string(seed), seed);
  }
}

TEST_CASE("concurrency_controller: slow start begins at 1 and doubles to the knee, no burst") {
  concurrency_controller fresh;
  CHECK(fresh.limit() == 1);
  CHECK(fresh.probing());
  sim_options o;
  o.server = {16, 5ms, 32};
  o.length = 2s;
  const auto r = simulate(o);
  // The first probe (8 answers at 1 in flight, ~42 ms), then 2, 4, 8...
  CHECK(measure(r, 0s, 40ms).max_limit == 1);
  CHECK(measure(r, 0s, 60ms).max_limit <= 2);
  // ...up to the knee within 300 ms, never past 2 × K on the way (the window that shows
  // the queue ends the doubling), so no burst beyond the server's queue.
  const nanoseconds reached = time_to_reach(r, 0s, 16);
  CHECK(reached <= 300ms);
  report_time("slow start K=16 S=5ms: limit at K after", reached);
  const stretch start = measure(r, 0s, 1s);
  CHECK(start.max_limit <= 32);
  CHECK(start.throttle_share == 0);
  report("slow start K=16 S=5ms (first second)", start, capacity(16, 5ms));
  // Past the knee, slow start ends: 8 for K=6 shows a queue, and the limit goes to the
  // target's 1.5 × 6 (10 with the simulation's rounding), not on to 12 or 16.
  o.server = {6, 10ms, 6};
  const auto six = measure(simulate(o), 0s, 1s);
  CHECK(six.max_limit <= 10);
  CHECK(six.throttle_share == 0);
  report("slow start K=6 S=10ms Q=6 (first second)", six, capacity(6, 10ms));
  // A doubling from just past the knee (16 for K=15, too short a queue to end slow start)
  // aims at twice the parallelism the window shows (30), not at 32: no 503 from Q=16.
  o.server = {15, 10ms, 16};
  const auto fifteen = measure(simulate(o), 0s, 1s);
  CHECK(fifteen.max_limit <= 30);
  CHECK(fifteen.throttle_share == 0);
  report("slow start K=15 S=10ms Q=16 (first second)", fifteen, capacity(15, 10ms));
}

TEST_CASE("concurrency_controller: a capacity drop K 8 -> 2 is followed within 2 s") {
  sim_options o;
  o.server = {8, 10ms, 8};
  o.changes = {{5s, 2U, {}, {}}};
  const auto r = simulate(o);
  const double cap = capacity(2, 10ms);
  const nanoseconds settled = settled_after(r, 5s, o.length, 0.05);
  CHECK(settled <= 2s);
  // Each half second from half a second after the drop on: few 503s, the new capacity used
  // (probes included).
  for (nanoseconds t = 5500ms; t < o.length; t += 500ms) {
    const stretch s = measure(r, t, t + 500ms);
    CHECK(s.throttle_share < 0.05);
    CHECK(s.throughput >= 0.85 * cap);
  }
  const stretch after = measure(r, 7s, o.length);
  CHECK(after.p50_ms <= 25);
  CHECK(after.max_limit <= 6);
  // The 503 storm at the drop is cut short by the throttles, not left to the latency.
  const auto storm = std::count_if(r.answers.begin(), r.answers.end(),
                                   [](const answer_record& a) { return a.throttled; });
  CHECK(storm <= 20);
  if (std::getenv("JOBPATCH_SIM_REPORT") != nullptr)
    std::printf("drop K 8->2: 503 share under 5%% per 0.5 s from %.1f ms after the drop, "
                "%zd 503s in all\n",
                duration<double, std::milli>(settled).count(), static_cast<std::ptrdiff_t>(storm));
  report("drop K 8->2 Q=8 (before)", measure(r, 2s, 5s), capacity(8, 10ms));
  report("drop K 8->2 Q=8 (first 0.5 s after)", measure(r, 5s, 5500ms), cap);
  report("drop K 8->2 Q=8 (2 s after on)", after, cap);
}

TEST_CASE("concurrency_controller: a capacity raise K 2 -> 8 is used within a second") {
  sim_options o;
  o.server = {2, 10ms, 8};
  o.changes = {{5s, 8U, {}, {}}};
  const auto r = simulate(o);
  const double cap = capacity(8, 10ms);
  CHECK(measure(r, 2s, 5s).max_limit <= 6);
  const nanoseconds reached = time_to_reach(r, 5s, 8);
  CHECK(reached <= 500ms);
  report_time("raise K 2->8: limit at the new K after", reached);
  const stretch after = measure(r, 6s, o.length);
  CHECK(after.throughput >= 0.9 * cap);
  CHECK(after.min_limit >= 8);
  CHECK(after.throttle_share == 0);
  report("raise K 2->8 Q=8 (1 s after on)", after, cap);
}

TEST_CASE("concurrency_controller: a server that gets slower is measured again by a probe") {
  // S 10 -> 30 ms at 5 s: without a new no-load RTT every window would look queued and the
  // limit would sink to 1, a quarter of the new capacity.
  sim_options o;
  o.server = {4, 10ms, 32};
  o.changes = {{5s, {}, 30ms, {}}};
  o.length = 12s;
  concurrency_controller controller;
  const auto r = simulation(controller, o).run();
  const double cap = capacity(4, 30ms);
  const stretch after = measure(r, 8s, o.length);
  CHECK(after.throughput >= 0.9 * cap);
  CHECK(after.p50_ms <= 2 * 30 + 5);
  CHECK(duration<double, std::milli>(controller.no_load_rtt()).count() ==
        doctest::Approx(30.2).epsilon(0.02));
  report("slower server S 10->30ms (3 s after on)", after, cap);
}

TEST_CASE("concurrency_controller: a server that gets faster lowers the target at once") {
  // S 30 -> 10 ms: with the old no-load RTT the target (45 ms) would let the limit grow to
  // 18, a queue of 14 where 2 are meant, until the next probe.
  sim_options o;
  o.server = {4, 30ms, 32};
  o.changes = {{5s, {}, 10ms, {}}};
  concurrency_controller c;
  const auto r = simulation(c, o).run();
  const stretch soon = measure(r, 5200ms, 6s);
  CHECK(soon.p50_ms <= 25);
  CHECK(soon.max_limit <= 12);
  CHECK(measure(r, 5200ms, o.length).throughput >= 0.9 * capacity(4, 10ms));
  report("faster server S 30->10ms (0.2..1 s after)", soon, capacity(4, 10ms));
}

TEST_CASE("concurrency_controller: a stall of 200 ms halves the limit at most once a window") {
  // The server starts nothing for 200 ms (a pause): the window holding the stalled answers
  // shows an RTT ten times the target, but one window moves the limit by half at most.
  sim_options o;
  o.server = {8, 10ms, 32};
  o.changes = {{5s, 0U, {}, {}}, {5200ms, 8U, {}, {}}};
  const auto r = simulate(o);
  const unsigned before = measure(r, 4s, 5s).min_limit;
  CHECK(measure(r, 5s, 6s).min_limit >= before / 2 - 1);
  CHECK(measure(r, 5500ms, o.length).throughput >= 0.9 * capacity(8, 10ms));
  report("stall 200 ms K=8 S=10ms (0.3 s after on)", measure(r, 5500ms, o.length),
         capacity(8, 10ms));
}

TEST_CASE("concurrency_controller: probes cost little on a slow server") {
  // A probe costs about two RTTs at half the limit: one per 100 no-load RTTs, not every
  // 2 s, when RTTs are long.
  sim_options o;
  o.server = {8, 100ms, 8};
  o.length = 30s;
  const auto r = simulate(o);
  const stretch steady = measure(r, 5s, o.length);
  CHECK(steady.throughput >= 0.98 * capacity(8, 100ms));
  report("slow server K=8 S=100ms Q=8", steady, capacity(8, 100ms));
}

TEST_CASE("concurrency_controller: a probe counts only answers sent at its concurrency") {
  concurrency_controller c;
  const tp at = t0;
  REQUIRE(c.probing());
  // An engine that sent above the limit: 5 in flight show a queue, not the no-load RTT.
  for (int i = 1; i <= 20; ++i) c.on_answer(50ms, false, 5, at + i * 50ms);
  CHECK(c.probing());
  CHECK(c.no_load_rtt() == 0ns);
  for (int i = 1; i <= 8; ++i) c.on_answer(10ms, false, 1, at + 1s + i * 10ms);
  CHECK_FALSE(c.probing());
  CHECK(c.no_load_rtt() == 10ms);
  CHECK(c.limit() == 2);
  CHECK(c.in_slow_start());
  // A throttle storm ends slow start: growth is by the gradient from then on.
  for (int i = 1; i <= 20; ++i) c.on_answer(100ms, true, 2, at + 2s + i * 2ms);
  CHECK(c.decreases() == 1);
  CHECK_FALSE(c.in_slow_start());
  CHECK(c.limit() == 1);
}

TEST_CASE("concurrency_controller: a burst of 503s to requests sent before the cut counts once") {
  concurrency_controller c;
  sim_options o;
  o.server = {8, 10ms, 32};
  o.length = 3s;
  simulation(c, o).run();
  const unsigned before = c.limit();
  REQUIRE(before >= 10);
  REQUIRE(c.decreases() == 0);
  // 100 throttles arrive 10 us apart, each to a request sent 5 ms earlier: all sent before
  // the first cut, which comes once they are a quarter of the recent answers.
  const tp at = t0 + o.length;
  for (int i = 0; i < 100; ++i) c.on_answer(5ms, true, before, at + i * 10us);
  CHECK(c.decreases() == 1);
  const auto halved = static_cast<unsigned>(std::lround(before * 0.5));
  CHECK(c.limit() == halved);
  // Nor do answers to requests sent before the cut, at the old limit, undo it.
  for (int i = 0; i < 30; ++i) c.on_answer(8ms, false, before, at + 1ms + i * 10us);
  CHECK(c.limit() == halved);
  // A throttle to a request sent after the cut is news: it cuts again.
  const tp later = at + 100 * 10us + 5ms;
  c.on_answer(1ms, true, c.limit(), later);
  CHECK(c.decreases() == 2);
  CHECK(c.limit() == static_cast<unsigned>(std::lround(before * 0.25)));
}

TEST_CASE("concurrency_controller: a probe during slow start does not restart it") {
  // Answers 1 ms apart, each sent `rtt` earlier, starting at `from`; returns the time after.
  concurrency_controller c;
  auto feed = [&c](int n, milliseconds rtt, unsigned in_flight, tp from) {
    for (int i = 0; i < n; ++i) c.on_answer(rtt, false, in_flight, from + i * 1ms);
    return from + n * 1ms + 100ms;
  };
  tp at = feed(8, 10ms, 1, t0 + 10ms); // the first probe: 10 ms, then 2
  REQUIRE(c.limit() == 2);
  at = feed(8, 10ms, 2, at); // no queue: 4
  at = feed(8, 10ms, 4, at); // 8
  REQUIRE(c.limit() == 8);
  REQUIRE(c.in_slow_start());
  // A window at half the no-load RTT: the estimate is stale, a probe at 8 / 3 measures it.
  at = feed(8, 5ms, 8, at);
  REQUIRE(c.probing());
  CHECK(c.limit() == 2);
  feed(8, 5ms, 2, at);
  CHECK_FALSE(c.probing());
  CHECK(c.no_load_rtt() == 5ms);
  CHECK(c.limit() == 8);
  CHECK(c.in_slow_start());
}

TEST_CASE("concurrency_controller: a steady 5% of 429s whatever the load is not overload") {
  sim_options o;
  o.server = {4, 10ms, 32};
  o.server.reject_share = 0.05;
  concurrency_controller c;
  const auto r = simulation(c, o).run();
  CHECK(c.decreases() == 0);
  const stretch steady = measure(r, 2s, o.length);
  CHECK(steady.throughput >= 0.9 * 0.95 * capacity(4, 10ms));
  report("random 5% 429s K=4 S=10ms", steady, capacity(4, 10ms));
}

TEST_CASE("concurrency_controller: a throttle's RTT is no latency sample") {
  // Half the requests refused at once (in 0.2 ms), with the cut turned off: counted as
  // samples they would halve each window's mean RTT, and the limit would climb.
  concurrency_config never_cut;
  never_cut.throttle_share = 2;
  sim_options o;
  o.server = {4, 10ms, 32};
  o.server.reject_share = 0.5;
  concurrency_controller c(never_cut);
  const auto r = simulation(c, o).run();
  const stretch steady = measure(r, 2s, o.length);
  CHECK(c.decreases() == 0);
  CHECK(steady.p50_ms <= 25);
  CHECK(steady.max_limit <= 3 * 4);
  CHECK(duration<double, std::milli>(c.no_load_rtt()).count() ==
        doctest::Approx(10.2).epsilon(0.05));
  report("random 50% 429s, no cut, K=4 S=10ms", steady, capacity(4, 10ms));
}

TEST_CASE("concurrency_controller: a server without a queue (503 beyond K) is not stormed") {
  // No RTT rises before the knee here: only 503s say where it is, and the limit comes back
  // only to just below the refused count for a while after each storm.
  for (unsigned k : {4U, 16U}) {
    sim_options o;
    o.server = {k, 10ms, 0};
    const auto r = simulate(o);
    const stretch steady = measure(r, 2s, o.length);
    CHECK(steady.throughput >= 0.85 * capacity(k, 10ms));
    CHECK(steady.throttle_share <= 0.03);
    report("no queue Q=0 K=" + std::to_string(k) + " S=10ms", steady, capacity(k, 10ms));
  }
}

TEST_CASE("concurrency_controller: the limit stays within 1 and max_limit") {
  concurrency_config three;
  three.max_limit = 3;
  sim_options o;
  o.server = {16, 5ms, 32};
  o.length = 3s;
  auto r = simulate(o, three);
  CHECK(measure(r, 0s, o.length).max_limit == 3);
  CHECK(measure(r, 1s, o.length).min_limit == 3);
  // max_limit 0 means 1.
  concurrency_config zero;
  zero.max_limit = 0;
  r = simulate(o, zero);
  CHECK(measure(r, 0s, o.length).max_limit == 1);
  // A server that starts refusing everything brings the limit down to 1, never below.
  o.changes = {{2s, {}, {}, 1.0}};
  r = simulate(o);
  CHECK(measure(r, 1s, 2s).min_limit >= 16);
  CHECK(measure(r, 2100ms, o.length).max_limit == 1);
  CHECK(std::all_of(r.limits.begin(), r.limits.end(), [](auto& l) { return l.limit >= 1; }));
}

TEST_CASE("concurrency_controller: latency independent of load lets the limit climb to max") {
  sim_options o;
  o.server.unbounded = true;
  o.server.service = 5ms;
  o.length = 3s;
  const auto r = simulate(o);
  const nanoseconds reached = time_to_reach(r, 0s, 64);
  CHECK(reached <= 200ms);
  report_time("unbounded server S=5ms: limit at max_limit 64 after", reached);
  CHECK(measure(r, 1s, o.length).min_limit == 64);
  CHECK(measure(r, 0s, o.length).max_limit == 64);
}

TEST_CASE("concurrency_controller: a throttle at max_limit halves max_limit") {
  // The limit is held at max_limit, not grown unseen beyond it: a cut halves what is sent.
  sim_options o;
  o.server.unbounded = true;
  o.server.service = 5ms;
  o.length = 3s;
  concurrency_controller c;
  simulation(c, o).run();
  REQUIRE(c.limit() == 64);
  for (int i = 0; i < 20; ++i) c.on_answer(1ms, true, 64, t0 + o.length + i * 10us);
  CHECK(c.decreases() == 1);
  CHECK(c.limit() == 32);
}

TEST_CASE("concurrency_controller: a limit the client does not fill does not grow") {
  // Three requests of work at a time (a slow manifest, or --rate): answers as fast as
  // ever prove nothing about more.
  sim_options o;
  o.server.unbounded = true;
  o.server.service = 5ms;
  o.work = 3;
  o.length = 3s;
  const auto r = simulate(o);
  CHECK(measure(r, 1s, o.length).max_limit <= 6);
}

TEST_CASE("concurrency_controller: no creep over a long run with a standing queue") {
  // Every answer waits behind the standing queue, so the least RTT seen under load is
  // above the no-load RTT: a minimum kept from load would creep up, and the limit with it.
  sim_options o;
  o.server = {4, 10ms, 32, 0.3};
  o.length = 30s;
  concurrency_controller c;
  const auto r = simulation(c, o).run();
  const stretch late = measure(r, 20s, o.length);
  CHECK(late.max_limit <= 3 * 4);
  CHECK(late.p50_ms <= 25);
  CHECK(late.throughput >= 0.9 * capacity(4, 10ms));
  CHECK(c.probes() >= 10);
  CHECK(duration<double, std::milli>(c.no_load_rtt()).count() ==
        doctest::Approx(10.2).epsilon(0.1));
  report("30 s, jitter 30% K=4 S=10ms (last 10 s)", late, capacity(4, 10ms));
}
