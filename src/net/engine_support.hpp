#pragma once
// Pieces the apply and bench engines share: how their retry policy is seeded and how
// their worker coroutines are started and collected.

#include <jobpatch/policy/retry_policy.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
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

// Starts `count` coroutines made by `make_worker()` on `io`. An exception escaping one is
// handed to `on_error` as text (the engine aborts the run with it); once the last has
// ended, `all_done()` runs.
template <class MakeWorker, class OnError, class AllDone>
void spawn_workers(boost::asio::io_context& io, std::size_t count, MakeWorker make_worker,
                   OnError on_error, AllDone all_done) {
  auto running = std::make_shared<std::size_t>(count);
  for (std::size_t i = 0; i < count; ++i) {
    boost::asio::co_spawn(io, make_worker(), [=](const std::exception_ptr& e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          on_error(std::string("internal error in a worker: ") + ex.what());
        }
      }
      if (--*running == 0) all_done();
    });
  }
}

} // namespace jobpatch::net
