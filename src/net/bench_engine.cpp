// The bench engine: one io_context thread runs a worker coroutine per connection. Each
// worker takes the next request number from a shared counter, waits for its intended time
// (or starts at once, late, when it is already past) and sends it. A request to be tried
// again waits in a shared queue, not on its connection: any free worker sends it when it
// is due, so backoffs and Retry-After never idle the pool. The schedule never waits for
// the server: a stall shows up as latency and late starts.

#include "net/bench_engine.hpp"

#include "net/attempt_core.hpp"
#include "net/engine_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <csignal>
#include <optional>
#include <stdexcept>

#include <unistd.h>

namespace jobpatch::net {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// The first request is intended this long after every connection is ready, so that all
// workers are waiting on their timers when the clock starts.
constexpr auto start_delay = std::chrono::milliseconds(5);

// A request of the schedule between its first attempt and its final answer.
struct request_state {
  std::uint64_t index = 0;
  clock::time_point intended{};
  unsigned attempts = 0;
  bool auth_refreshed = false;
  clock::time_point retry_at{}; // while it waits in the retry queue
};

// Orders the retry queue (a heap) earliest first.
struct later_retry {
  bool operator()(const request_state& a, const request_state& b) const noexcept {
    return a.retry_at > b.retry_at;
  }
};

class bench_engine {
public:
  bench_engine(const bench_options& options, const update_store& ops, bench_statistics& stats,
               bench_run_info& info, bench_tick on_tick)
      : options_(options), ops_(ops), stats_(stats), info_(info), on_tick_(std::move(on_tick)),
        client_(client_settings{options.base_url, options.api_key, options.ca_file,
                                options.insecure, options.max_attempts, options.attempt_timeout,
                                options.network},
                [this] { wake_sleepers(); }),
        start_gate_(io_, clock::time_point::max()) {
    if (ops_.empty()) throw std::invalid_argument("bench needs at least one update to send");
  }

  void run();

private:
  asio::awaitable<void> worker();
  // Token and connection before the clock starts: the first second must not measure
  // handshakes. Returns once the schedule has started (or the run stopped).
  asio::awaitable<void> warm_up(http_connection& connection, worker_buffers& w);
  // One attempt of `r`; then records it as done or queues it for a retry.
  // `target` is the worker's request path buffer, reused.
  asio::awaitable<void> attempt(http_connection& connection, request_state r, worker_buffers& w,
                                std::string& target);
  void record_done(const request_state& r, bool ok);
  void queue_retry(request_state r);
  // Sleeps until `when`; false when the run is stopping (then possibly earlier).
  asio::awaitable<bool> sleep_until(asio::steady_timer& timer, clock::time_point when);

  // Run by client_.stop(): every waiting worker looks again.
  void wake_sleepers();
  asio::awaitable<void> watch_signals();
  asio::awaitable<void> tick(); // calls on_tick_ every 250 ms until the run ends

  const bench_options& options_;
  const update_store& ops_;
  bench_statistics& stats_;
  bench_run_info& info_;
  bench_tick on_tick_;
  client_context client_;
  asio::io_context& io_ = client_.io;

  std::optional<load_schedule> schedule_; // set when every worker is ready
  clock::time_point retry_deadline_ = clock::time_point::max();
  std::uint64_t next_ = 0;        // the next request number to take
  std::size_t ready_ = 0;         // workers done warming up
  asio::steady_timer start_gate_; // cancelled to start the waiting workers
  std::vector<asio::steady_timer*> sleeping_;
  std::vector<asio::steady_timer*> idle_; // workers with nothing but later retries to do
  std::vector<request_state> retries_;    // heap on retry_at, earliest first
  clock::time_point last_answer_{};
  bool finished_ = false;
  asio::signal_set signals_{io_, SIGINT, SIGTERM};
};

asio::awaitable<bool> bench_engine::sleep_until(asio::steady_timer& timer, clock::time_point when) {
  if (client_.stopping()) co_return false;
  timer.expires_at(when);
  sleeping_.push_back(&timer);
  co_await timer.async_wait(use_tuple);
  std::erase(sleeping_, &timer);
  co_return !client_.stopping();
}

asio::awaitable<void> bench_engine::warm_up(http_connection& connection, worker_buffers& w) {
  bool held = co_await client_.ensure_token();
  if (held) {
    bool connected = co_await connection.prepare(options_.attempt_timeout, w.reply);
    // Other connection failures are left to the first request, which measures them.
    if (!connected && w.reply.outcome.cls == error_class::tls_verify)
      client_.abort(client_.tokens.scrubber().shown(server_text(w.reply.detail)));
  }
  if (++ready_ == options_.connections && !client_.stopping()) {
    schedule_.emplace(options_.rate, options_.duration, clock::now() + start_delay);
    retry_deadline_ = schedule_->start() + options_.duration + options_.attempt_timeout;
    start_gate_.cancel();
  }
  if (!schedule_ && !client_.stopping()) co_await start_gate_.async_wait(use_tuple);
}

asio::awaitable<void> bench_engine::worker() {
  http_connection connection(io_.get_executor(), &client_.tls, client_.server);
  auto registered = client_.register_connection(connection);
  worker_buffers w;
  // The request path is built per attempt into this buffer (an encoded copy per update
  // would cost ~80 bytes each): a few short copies, no allocation once warm.
  std::string target;
  asio::steady_timer timer(io_);
  co_await warm_up(connection, w);
  while (!client_.stopping() && schedule_) {
    auto now = clock::now();
    if (!retries_.empty() && retries_.front().retry_at <= now) {
      std::pop_heap(retries_.begin(), retries_.end(), later_retry{});
      request_state r = retries_.back();
      retries_.pop_back();
      co_await attempt(connection, r, w, target);
      continue;
    }
    // A pool that fell behind does not run past the duration to catch up: what was not
    // started by then is reported as not sent.
    bool schedule_done =
        next_ >= schedule_->total_requests() || now >= schedule_->start() + options_.duration;
    if (schedule_done) {
      if (retries_.empty()) break;
      idle_.push_back(&timer);
      bool go_on = co_await sleep_until(timer, retries_.front().retry_at);
      std::erase(idle_, &timer);
      if (!go_on) break;
      continue;
    }
    request_state r;
    r.index = next_++;
    r.intended = schedule_->intended_time(r.index);
    auto kind = bench_statistics::start_kind::taken_late;
    if (now < r.intended) {
      bool on_time = co_await sleep_until(timer, r.intended);
      if (!on_time) break;
      kind = bench_statistics::start_kind::on_time_wait;
    }
    stats_.record_start(clock::now() - r.intended, kind);
    co_await attempt(connection, r, w, target);
  }
}

asio::awaitable<void> bench_engine::attempt(http_connection& connection, request_state r,
                                            worker_buffers& w, std::string& target) {
  // A retry takes the same index, so it sends the same update.
  update_view op = ops_[r.index % ops_.size()];
  bool held = co_await client_.ensure_token();
  if (!held) {
    if (r.attempts) record_done(r, false);
    co_return;
  }
  ++r.attempts;
  attempt_request in;
  assign_patch_target(target, client_.server.base_path, op.job_id, op.op);
  in.update = op;
  in.target = target;
  in.attempt = r.attempts;
  in.auth_refreshed = r.auth_refreshed;
  in.deadline = retry_deadline_;
  co_await client_.attempt(connection, true, in, w);
  const attempt_result& result = w.result;
  const reply_judgement& j = w.judgement;
  if (j.outcome.cls == error_class::cancelled && client_.stopping()) {
    // Cut off by the stop: neither the server's nor the network's doing.
    if (--r.attempts) record_done(r, false);
    co_return;
  }
  stats_.record_attempt(op.op, j.outcome, result.answered - result.sent);
  if (j.applied() || client_.stopping()) {
    record_done(r, j.applied());
    co_return;
  }
  switch (result.decision.kind) {
  case retry_action::final:
    record_done(r, false);
    break;
  case retry_action::refresh_auth_then_retry:
    r.auth_refreshed = true;
    r.retry_at = result.answered;
    queue_retry(r);
    break;
  case retry_action::retry:
    r.retry_at = result.decision.at;
    queue_retry(r);
    break;
  }
}

void bench_engine::record_done(const request_state& r, bool ok) {
  auto done = clock::now();
  stats_.record_operation(ops_[r.index % ops_.size()].op, ok, r.attempts, done - r.intended,
                          done - schedule_->start());
  last_answer_ = std::max(last_answer_, done);
}

void bench_engine::queue_retry(request_state r) {
  retries_.push_back(r);
  std::push_heap(retries_.begin(), retries_.end(), later_retry{});
  // A worker idle until a later retry looks again. Workers waiting for the intended time
  // of a request they took are left alone: that request must not leave early.
  for (auto* timer : idle_)
    if (timer->expiry() > r.retry_at) timer->cancel();
}

void bench_engine::wake_sleepers() {
  start_gate_.cancel();
  for (auto* timer : sleeping_) timer->cancel();
}

asio::awaitable<void> bench_engine::watch_signals() {
  auto [ec, number] = co_await signals_.async_wait(use_tuple);
  if (ec || finished_) co_return;
  info_.signal = number;
  // A benchmark has nothing to finish: stop at once and report what was measured.
  client_.stop();
  client_.close_connections();
  signals_.async_wait([](const boost::system::error_code& e, int n) {
    if (!e) ::_exit(128 + n); // a second signal: leave without the report
  });
}

asio::awaitable<void> bench_engine::tick() {
  asio::steady_timer timer(io_);
  while (!client_.stopping() && !finished_) {
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(use_tuple);
    if (schedule_ && !client_.stopping() && !finished_) on_tick_(*schedule_, clock::now());
  }
}

void bench_engine::run() {
  client_.start();

  asio::co_spawn(io_, watch_signals(), asio::detached);
  if (on_tick_) asio::co_spawn(io_, tick(), asio::detached);
  worker_group workers(
      io_, [this] { return worker(); },
      [this](std::string reason) { client_.abort(std::move(reason)); },
      [this] {
        finished_ = true;
        io_.stop(); // the signal watcher is all that is left
      });
  workers.spawn(options_.connections);
  io_.run();
  info_.aborted = client_.aborted();
  info_.abort_reason = client_.abort_reason();
  for (const auto& r : retries_) record_done(r, false); // the run stopped before their retry

  // The schedule as it would have been, when the run stopped before it started.
  load_schedule planned =
      schedule_ ? *schedule_ : load_schedule(options_.rate, options_.duration, clock::now());
  info_.scheduled = planned.total_requests();
  info_.duration_seconds = std::chrono::duration<double>(options_.duration).count();
  if (schedule_) {
    // An on-time run lasts its duration: the last request is intended just before its end.
    auto end = std::max(last_answer_, schedule_->start() + options_.duration);
    if (client_.stopping() && last_answer_ > schedule_->start()) end = last_answer_;
    info_.wall_seconds = std::chrono::duration<double>(end - schedule_->start()).count();
  }
  std::uint64_t completed = stats_.completed();
  info_.not_sent = info_.scheduled > completed ? info_.scheduled - completed : 0;
}

} // namespace

void run_bench(const bench_options& options, const update_store& ops, bench_statistics& stats,
               bench_run_info& info, bench_tick on_tick) {
  if (options.connections == 0) throw std::invalid_argument("--connections must be at least 1");
  load_schedule check(options.rate, options.duration, std::chrono::steady_clock::now()); // throws
  (void)check;
  bench_engine engine(options, ops, stats, info, std::move(on_tick));
  engine.run();
}

} // namespace jobpatch::net
