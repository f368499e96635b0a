#include <jobpatch/policy/rate_limiter.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <queue>
#include <random>
#include <vector>

using namespace jobpatch;
using namespace std::chrono;
using namespace std::chrono_literals;
using tp = steady_clock::time_point;

namespace {
const tp t0 = tp(100s);

// Largest number of sends in any closed window [s, s + length] over sorted send times.
std::size_t max_in_window(std::vector<tp> sends, nanoseconds length) {
  std::sort(sends.begin(), sends.end());
  std::size_t best = 0, lo = 0;
  for (std::size_t hi = 0; hi < sends.size(); ++hi) {
    while (sends[hi] - sends[lo] > length) ++lo;
    best = std::max(best, hi - lo + 1);
  }
  return best;
}

// `workers` concurrent callers, each reserving, sleeping until the returned time, sending,
// then thinking for a random time before reserving again (like the engine's coroutines).
std::vector<tp> simulate(rate_limiter& limiter, int workers, int total, nanoseconds max_think,
                         std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  using item = std::pair<tp, int>;
  std::priority_queue<item, std::vector<item>, std::greater<>> ready;
  for (int w = 0; w < workers; ++w) ready.push({t0 + nanoseconds(rng() % 1000000), w});
  std::vector<tp> sends;
  while (static_cast<int>(sends.size()) < total) {
    auto [now, w] = ready.top();
    ready.pop();
    tp at = limiter.reserve(now);
    REQUIRE(at >= now);
    sends.push_back(at);
    auto think = max_think.count() > 0 ? nanoseconds(rng() % max_think.count()) : 0ns;
    ready.push({at + think, w});
  }
  return sends;
}
} // namespace

TEST_CASE("rate_limiter: unlimited rate never makes the caller wait") {
  rate_limiter l;
  for (int i = 0; i < 1000; ++i) CHECK(l.reserve(t0) == t0);
  CHECK(l.effective_rate() == 0);
  CHECK(l.configured_rate() == 0);
  CHECK_FALSE(l.throttled());
  // Nonsense rates mean unlimited too.
  rate_limiter n(-5, 0);
  CHECK(n.reserve(t0) == t0);
  CHECK(n.reserve(t0) == t0);
}

TEST_CASE("rate_limiter: burst 1 spaces sends exactly 1/rate apart") {
  rate_limiter l(10, 1);
  CHECK(l.reserve(t0) == t0);
  CHECK(l.reserve(t0) == t0 + 100ms);
  CHECK(l.reserve(t0) == t0 + 200ms);
  // A caller arriving later than its slot is not delayed further.
  CHECK(l.reserve(t0 + 1s) == t0 + 1s);
  CHECK(l.reserve(t0 + 1s) == t0 + 1100ms);
}

TEST_CASE("rate_limiter: a full bucket lets `burst` requests go at once, then paces") {
  rate_limiter l(100, 5);
  for (int i = 0; i < 5; ++i) CHECK(l.reserve(t0) == t0);
  CHECK(l.reserve(t0) == t0 + 10ms);
  CHECK(l.reserve(t0) == t0 + 20ms);
  // After a long idle time the bucket is full again, but never holds more than `burst`.
  tp later = t0 + 10s;
  for (int i = 0; i < 5; ++i) CHECK(l.reserve(later) == later);
  CHECK(l.reserve(later) == later + 10ms);
  // Partial refill: 20 ms after that slot, two tokens are available, the third is paced.
  CHECK(l.reserve(later + 30ms) == later + 30ms);
  CHECK(l.reserve(later + 30ms) == later + 30ms);
  CHECK(l.reserve(later + 30ms) == later + 40ms);
}

TEST_CASE("rate_limiter: a non-integral rate is never exceeded (interval rounded up)") {
  rate_limiter l(3, 1);
  tp a = l.reserve(t0), b = l.reserve(t0), c = l.reserve(t0), d = l.reserve(t0);
  CHECK(a == t0);
  CHECK(b - a >= 333'333'334ns);
  CHECK(d - a >= 1s);
  CHECK(c - b == b - a);
}

TEST_CASE("rate_limiter: any one-second window sees at most rate + burst sends") {
  struct scenario {
    double rate;
    double burst;
    int workers;
    nanoseconds think;
  };
  for (auto s :
       {scenario{100, 1, 16, 0ns}, scenario{100, 10, 16, 50ms}, scenario{1000, 50, 64, 300ms},
        scenario{7, 3, 4, 2s}, scenario{50000, 5000, 256, 10ms}}) {
    rate_limiter l(s.rate, s.burst);
    auto sends = simulate(l, s.workers, 20000, s.think, 99);
    auto worst = max_in_window(sends, 1s);
    CHECK_MESSAGE(worst <= s.rate + s.burst, "rate ", s.rate, " burst ", s.burst, " worst ", worst);
    // ...and the limiter does not throttle far below the rate when callers keep up.
    auto span = duration<double>(sends.back() - sends.front()).count();
    if (s.think == 0ns)
      CHECK(static_cast<double>(sends.size() - 1) / span == doctest::Approx(s.rate).epsilon(0.01));
  }
}

TEST_CASE("rate_limiter: throttling halves the rate at most once per interval") {
  rate_limiter l(1000, 1);
  l.on_throttled(t0);
  CHECK(l.effective_rate() == doctest::Approx(500));
  CHECK(l.throttled());
  l.on_throttled(t0 + 100ms); // same burst of 429s: ignored
  l.on_throttled(t0 + 499ms);
  CHECK(l.effective_rate() == doctest::Approx(500));
  l.on_throttled(t0 + 500ms);
  CHECK(l.effective_rate() == doctest::Approx(250));
  // The pacing follows the effective rate.
  tp a = l.reserve(t0 + 10s), b = l.reserve(t0 + 10s);
  CHECK(b - a == 4ms);
}

TEST_CASE("rate_limiter: throttling stops at the floor (5% of the rate, at least 1/s)") {
  rate_limiter l(1000, 1);
  for (int i = 0; i < 20; ++i) l.on_throttled(t0 + i * 1s);
  CHECK(l.effective_rate() == doctest::Approx(50));
  rate_limiter slow(10, 1);
  for (int i = 0; i < 20; ++i) slow.on_throttled(t0 + i * 1s);
  CHECK(slow.effective_rate() == doctest::Approx(1));
  // A configured rate below the floor is never raised by throttling.
  rate_limiter tiny(0.5, 1);
  tiny.on_throttled(t0);
  CHECK(tiny.effective_rate() == doctest::Approx(0.5));
  CHECK_FALSE(tiny.throttled());
}

TEST_CASE("rate_limiter: successes recover the rate gradually, never above the configured rate") {
  rate_limiter l(1000, 1);
  l.on_throttled(t0);
  CHECK(l.effective_rate() == doctest::Approx(500));
  l.on_success(t0 + 999ms); // too soon after the decrease
  CHECK(l.effective_rate() == doctest::Approx(500));
  l.on_success(t0 + 1s);
  CHECK(l.effective_rate() == doctest::Approx(600));
  l.on_success(t0 + 1500ms); // one step per second at most
  CHECK(l.effective_rate() == doctest::Approx(600));
  for (int i = 2; i <= 10; ++i) l.on_success(t0 + i * 1s);
  CHECK(l.effective_rate() == doctest::Approx(1000));
  CHECK_FALSE(l.throttled());
  l.on_success(t0 + 20s);
  CHECK(l.effective_rate() == doctest::Approx(1000));
}

TEST_CASE("rate_limiter: a throttle during recovery restarts the recovery clock") {
  rate_limiter l(1000, 1);
  l.on_throttled(t0);
  l.on_success(t0 + 1s);       // 600
  l.on_throttled(t0 + 1200ms); // 300
  CHECK(l.effective_rate() == doctest::Approx(300));
  l.on_success(t0 + 2s); // only 0.8 s since the decrease
  CHECK(l.effective_rate() == doctest::Approx(300));
  l.on_success(t0 + 2200ms);
  CHECK(l.effective_rate() == doctest::Approx(400));
}

TEST_CASE("rate_limiter: throttling never breaks the configured window bound") {
  rate_limiter l(200, 20);
  std::vector<tp> sends;
  tp now = t0;
  for (int i = 0; i < 4000; ++i) {
    tp at = l.reserve(now);
    sends.push_back(at);
    now = at;
    if (i % 500 == 250)
      l.on_throttled(now);
    else
      l.on_success(now);
  }
  CHECK(max_in_window(sends, 1s) <= 220);
}

TEST_CASE("rate_limiter: with adaptation off, throttling changes nothing") {
  adaptive_rate_config off;
  off.enabled = false;
  rate_limiter l(100, 1, off);
  l.on_throttled(t0);
  CHECK(l.effective_rate() == 100);
  rate_limiter u(0, 1, off);
  u.on_throttled(t0);
  CHECK(u.effective_rate() == 0);
  CHECK(u.reserve(t0) == t0);
}

TEST_CASE(
    "rate_limiter: unlimited rate starts limiting from the measured send rate when throttled") {
  rate_limiter l(0, 1);
  // 1,000 sends/s for 2 s.
  for (int i = 0; i < 2000; ++i) CHECK(l.reserve(t0 + milliseconds(i)) == t0 + milliseconds(i));
  l.on_throttled(t0 + 2s);
  CHECK(l.effective_rate() == doctest::Approx(500).epsilon(0.01));
  CHECK(l.throttled());
  tp a = l.reserve(t0 + 2s), b = l.reserve(t0 + 2s);
  CHECK(b - a == 2ms);
  // Recovery by 10% of the measured rate per second, then unlimited again.
  for (int i = 1; i <= 4; ++i) l.on_success(t0 + 2s + i * 1s);
  CHECK(l.effective_rate() == doctest::Approx(900).epsilon(0.01));
  l.on_success(t0 + 7s);
  CHECK(l.effective_rate() == 0);
  CHECK_FALSE(l.throttled());
  CHECK(l.reserve(t0 + 7s) == t0 + 7s);
}

TEST_CASE("rate_limiter: unlimited rate measures a partial first second sensibly") {
  rate_limiter l(0, 1);
  // 300 sends in the first 300 ms: about 1,000/s.
  for (int i = 0; i < 300; ++i) l.reserve(t0 + milliseconds(i));
  l.on_throttled(t0 + 300ms);
  CHECK(l.effective_rate() == doctest::Approx(500).epsilon(0.01));
  // Very few sends long ago: the floor of 1/s applies.
  rate_limiter quiet(0, 1);
  quiet.reserve(t0);
  quiet.on_throttled(t0 + 10s);
  CHECK(quiet.effective_rate() == doctest::Approx(1));
  // Throttled before any send was counted: the floor too.
  rate_limiter fresh(0, 1);
  fresh.on_throttled(t0);
  CHECK(fresh.effective_rate() == doctest::Approx(1));
}

TEST_CASE("rate_limiter: send counting rolls over windows correctly") {
  rate_limiter l(0, 1);
  for (int i = 0; i < 100; ++i) l.reserve(t0 + milliseconds(i * 10));     // 100/s in [0,1s)
  for (int i = 0; i < 50; ++i) l.reserve(t0 + 1s + milliseconds(i * 20)); // 50/s in [1s,2s)
  l.reserve(t0 + 2s);              // rolls: last full window had 50
  l.on_throttled(t0 + 2s + 200ms); // max(50, 1 / 0.2 s) = 50
  CHECK(l.effective_rate() == doctest::Approx(25));
}

TEST_CASE("throttle_monitor: a steady 10% of 503s is not overload — a large share is") {
  using namespace std::chrono_literals;
  throttle_monitor m;
  auto t = throttle_monitor::clock::time_point{} + 1h;
  int triggers = 0;
  for (int i = 0; i < 5000; ++i) { // 1000 answers/s, every 10th throttled
    t += 1ms;
    if (m.record(i % 10 == 0, t)) ++triggers;
  }
  CHECK(triggers == 0);
  CHECK(m.share() == doctest::Approx(0.1).epsilon(0.05));
  for (int i = 0; i < 1000; ++i) { // now every other answer is throttled
    t += 1ms;
    if (m.record(i % 2 == 0, t)) ++triggers;
  }
  CHECK(triggers > 0);
  CHECK(m.share() > 0.25);
}

TEST_CASE("throttle_monitor: too few answers never trigger, and the past decays") {
  using namespace std::chrono_literals;
  throttle_monitor m(0.25, 20, 1s);
  auto t = throttle_monitor::clock::time_point{} + 1h;
  for (int i = 0; i < 10; ++i) CHECK_FALSE(m.record(true, t += 10ms)); // 10 answers only
  t += 10s; // ten windows later the old throttles weigh nothing
  for (int i = 0; i < 100; ++i) m.record(false, t += 1ms);
  CHECK(m.share() < 0.01);
  CHECK_FALSE(m.record(true, t += 1ms));
}

TEST_CASE("rate_limiter: set_rate paces at the new rate from now, forgetting old reservations") {
  rate_limiter l(1, 1);
  for (int i = 0; i < 10; ++i) (void)l.reserve(t0); // booked up to t0 + 9 s at 1/s
  CHECK(l.reserve(t0) == t0 + 10s);
  l.set_rate(100, 1, t0 + 1s);
  CHECK(l.configured_rate() == 100);
  CHECK(l.effective_rate() == 100);
  CHECK(l.reserve(t0 + 1s) == t0 + 1s);
  CHECK(l.reserve(t0 + 1s) == t0 + 1s + 10ms);
  // Lowered: the next token is 1/rate after the last one handed out, not the old spacing.
  l.set_rate(2, 1, t0 + 2s);
  CHECK(l.reserve(t0 + 2s) == t0 + 2s);
  CHECK(l.reserve(t0 + 2s) == t0 + 2500ms);
  // Lifted: no wait at all.
  l.set_rate(0, 1, t0 + 3s);
  CHECK(l.effective_rate() == 0);
  for (int i = 0; i < 100; ++i) CHECK(l.reserve(t0 + 3s) == t0 + 3s);
}

TEST_CASE("rate_limiter: set_rate forgets throttling") {
  rate_limiter l(100, 1);
  l.on_throttled(t0);
  CHECK(l.throttled());
  l.set_rate(50, 1, t0 + 1s);
  CHECK_FALSE(l.throttled());
  CHECK(l.effective_rate() == 50);
  // The next throttle may halve it at once: the decrease interval starts over too.
  l.on_throttled(t0 + 1s);
  CHECK(l.effective_rate() == 25);
}
