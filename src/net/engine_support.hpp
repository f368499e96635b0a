#pragma once
// Pieces the apply and bench engines share: how their retry policy is seeded and how
// their worker coroutines are started and collected.

#include <jobpatch/policy/retry_policy.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <random>
#include <string>

namespace jobpatch::net {

// A retry policy allowing `max_attempts` (at least 1) attempts, its jitter seeded by the
// OS so that runs started together do not retry in step.
inline retry_policy make_retry_policy(unsigned max_attempts) {
  retry_config config;
  config.max_attempts = std::max(1u, max_attempts);
  std::random_device seed;
  return retry_policy(config, (std::uint64_t{seed()} << 32) | seed());
}

// Worker coroutines made by `make_worker()` on `io`: spawn() starts some, at the start
// or while the others run. An exception escaping one is handed to `on_error` as text (the
// engine aborts the run with it); once every one started has ended, `all_done()` runs.
// Must outlive the workers (the io_context's run).
class worker_group {
public:
  worker_group(boost::asio::io_context& io,
               std::function<boost::asio::awaitable<void>()> make_worker,
               std::function<void(std::string)> on_error, std::function<void()> all_done)
      : io_(io), make_worker_(std::move(make_worker)), on_error_(std::move(on_error)),
        all_done_(std::move(all_done)) {}

  void spawn(std::size_t count) {
    started_ += count;
    running_ += count;
    for (std::size_t i = 0; i < count; ++i)
      boost::asio::co_spawn(io_, make_worker_(), [this](const std::exception_ptr& e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            on_error_(std::string("internal error in a worker: ") + ex.what());
          }
        }
        if (--running_ == 0) all_done_();
      });
  }
  std::size_t started() const noexcept { return started_; }

private:
  boost::asio::io_context& io_;
  std::function<boost::asio::awaitable<void>()> make_worker_;
  std::function<void(std::string)> on_error_;
  std::function<void()> all_done_;
  std::size_t started_ = 0, running_ = 0;
};

} // namespace jobpatch::net
