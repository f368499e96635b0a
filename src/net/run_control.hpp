#pragma once
// When an apply run stops, and its heartbeat, on the io thread: the first SIGINT or
// SIGTERM stops it (in-flight requests have the grace period, then are cut off), a second
// leaves at once; the deadline stops it; and every interval the engine's periodic work
// runs (progress, metrics, the hand-over to the writer thread). The engine says what each
// of these does; this class only says when.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>

namespace jobpatch::net {

class run_control {
public:
  using clock = std::chrono::steady_clock;
  struct actions {
    std::function<void(int signal)> stop_on_signal; // the first signal
    std::function<void()> cut_off;                  // the grace period after it is over
    std::function<void(int signal)> leave_now;      // a second signal: must not return
    std::function<void()> stop_on_deadline;
    std::function<void(clock::time_point now)> every_interval;
  };
  // `deadline`: 0 = none.
  run_control(boost::asio::io_context& io, std::chrono::milliseconds grace,
              std::chrono::milliseconds deadline, clock::duration interval, actions a);
  // From here on SIGINT and SIGTERM are ignored: Asio gives them back their default action,
  // which would end the process before the run's last words (summary, report, metrics) are
  // written; what is left after the engine is that writing (kill -9 still ends it).
  ~run_control();
  run_control(const run_control&) = delete;
  run_control& operator=(const run_control&) = delete;

  // Starts the watchers; the deadline counts from now.
  void start();
  // The run is over: no action runs any more and the waits end (a second signal still
  // leaves at once).
  void finish();
  bool finished() const noexcept { return finished_; }
  // When the run must end (time_point::max() without a deadline).
  clock::time_point deadline() const noexcept { return deadline_; }

private:
  boost::asio::awaitable<void> watch_signals();
  boost::asio::awaitable<void> beat();

  boost::asio::io_context& io_;
  std::chrono::milliseconds grace_, deadline_after_;
  clock::duration interval_;
  actions actions_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer beat_timer_, deadline_timer_;
  clock::time_point deadline_ = clock::time_point::max();
  bool finished_ = false;
};

} // namespace jobpatch::net
