#pragma once
// Counters of jobpatch-mock, read by tests through GET /mock/stats.

#include "mock/capacity_model.hpp"

#include <jobpatch/manifest/operation.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace jobpatch::mock {

enum class endpoint : std::uint8_t {
  access_token,
  datasource,
  params,
  jobname,
  configs,
  get_job,
  stats,
  other
};
inline constexpr std::size_t endpoint_count = 8;

// The endpoint of a PATCH operation.
constexpr endpoint endpoint_of(op_kind op) noexcept {
  switch (op) {
  case op_kind::datasource:
    return endpoint::datasource;
  case op_kind::params:
    return endpoint::params;
  case op_kind::jobname:
    return endpoint::jobname;
  case op_kind::configs:
    return endpoint::configs;
  }
  return endpoint::other;
}

enum class fault : std::uint8_t { none, fail_429, fail_503, fail_500, drop, truncate };

// Lock-free (relaxed atomics): exact once the traffic being counted has finished.
class mock_stats {
public:
  // The statuses counted one by one; anything else lands in "other". A request answered
  // with nothing at all (a drop) counts under "dropped".
  static constexpr std::array<int, 12> statuses = {200, 400, 401, 404, 405, 408,
                                                   413, 429, 431, 500, 503, 0};

  void request(endpoint e, int status) noexcept;
  void dropped(endpoint e, bool applied) noexcept;
  void fault_injected(fault f) noexcept;
  void connection_opened() noexcept;
  void connection_closed() noexcept;
  void token_issued() noexcept { tokens_issued_.fetch_add(1, std::memory_order_relaxed); }
  // A PATCH arrived: tracks the most PATCHes seen in any sliding one-second window, so a
  // test can check a client's rate limit from the server's side.
  void patch_arrived(std::chrono::steady_clock::time_point now);

  // {"requests":{"total":N,"configs":{"200":N,...},...},"applied":N,"faults":{...},
  //  "connections":{"accepted":N,"open":N},"tokensIssued":N,"patchesPerSecondPeak":N}
  // and, with --capacity, the model's figures (its 503s are counted under "requests"
  // too, never under "faults"):
  //  "capacity":{"limit":K now,"serviceMs":S,"queueLimit":Q,"servedAtOnce":N,
  //  "servedAfterQueue":N,"rejected503":N,"inService":N,"queued":N,"peakInService":N,
  //  "peakQueued":N,"changesMade":N}
  std::string to_json(std::uint64_t applied, const capacity_report* capacity = nullptr) const;

private:
  static constexpr std::size_t slots = statuses.size() + 1; // + "other"
  static constexpr std::size_t dropped_slot = statuses.size() - 1;
  using counter = std::atomic<std::uint64_t>;
  std::array<std::array<counter, slots>, endpoint_count> requests_{};
  std::array<counter, 6> faults_{}; // 429, 503, 500, drop applied, drop not applied, truncate
  counter accepted_{0}, open_{0}, tokens_issued_{0};
  mutable std::mutex window_mutex_;
  std::deque<std::chrono::steady_clock::time_point> window_; // arrivals of the last second
  std::size_t peak_per_second_ = 0;
};

const char* to_string(endpoint e) noexcept;

} // namespace jobpatch::mock
