#include "net/run_control.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <csignal>

namespace jobpatch::net {
namespace {
constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
}

run_control::run_control(boost::asio::io_context& io, std::chrono::milliseconds grace,
                         std::chrono::milliseconds deadline, clock::duration interval, actions a)
    : io_(io), grace_(grace), deadline_after_(deadline), interval_(interval),
      actions_(std::move(a)), signals_(io, SIGINT, SIGTERM), beat_timer_(io), deadline_timer_(io) {}

void run_control::start() {
  boost::asio::co_spawn(io_, watch_signals(), boost::asio::detached);
  boost::asio::co_spawn(io_, beat(), boost::asio::detached);
  if (deadline_after_.count() > 0) {
    deadline_ = clock::now() + deadline_after_;
    deadline_timer_.expires_at(deadline_);
    deadline_timer_.async_wait([this](boost::system::error_code e) {
      if (!e && !finished_) actions_.stop_on_deadline();
    });
  }
}

run_control::~run_control() {
  boost::system::error_code ignored;
  signals_.clear(ignored); // the default action back, for the moment until the next line
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_IGN);
}

void run_control::finish() {
  finished_ = true;
  beat_timer_.cancel();
  deadline_timer_.cancel();
}

boost::asio::awaitable<void> run_control::watch_signals() {
  auto [ec, number] = co_await signals_.async_wait(use_tuple);
  if (ec || finished_) co_return;
  actions_.stop_on_signal(number);
  signals_.async_wait([this](const boost::system::error_code& e, int n) {
    if (!e) actions_.leave_now(n);
  });
  // In-flight requests may finish within the grace period; then they are cut off.
  boost::asio::steady_timer grace(io_, grace_);
  co_await grace.async_wait(use_tuple);
  if (!finished_) actions_.cut_off();
}

boost::asio::awaitable<void> run_control::beat() {
  while (!finished_) {
    beat_timer_.expires_after(interval_);
    co_await beat_timer_.async_wait(use_tuple);
    if (!finished_) actions_.every_interval(clock::now());
  }
}

} // namespace jobpatch::net
