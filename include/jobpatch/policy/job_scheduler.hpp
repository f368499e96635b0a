#pragma once
// Per-job ordering of updates: updates of one job id go out in push (manifest) order and
// never two at once; different jobs run in parallel; retries wait in a time-ordered queue
// and keep blocking their job's successors. Pure: time is passed in, no threads.
// Not thread-safe: owned by the engine's thread.
//
// Window trade-off: the engine caps how many updates are held (size() <= window()); the
// scheduler only holds what it was given, so a long run of consecutive lines for one job
// (say 100k) fills the window and the other jobs behind it in the manifest wait until that
// job drains. Ordering is preserved and memory bounded; only parallelism suffers, and only
// for such manifests.

#include <boost/unordered/unordered_flat_map.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobpatch {

namespace detail {
// Open addressing (linear probing, backward-shift deletion) from a caller's 64-bit hash to
// a 32-bit index; the caller keeps the keys and compares them. Defined in
// src/policy/flat_index.hpp.
class flat_index {
public:
  static constexpr std::uint32_t none = UINT32_MAX;
  void reserve(std::size_t count);
  template <class Eq>
  std::uint32_t find(std::uint64_t hash, Eq&& eq) const;
  void insert(std::uint64_t hash, std::uint32_t index);
  void erase(std::uint64_t hash, std::uint32_t index);

private:
  struct cell {
    std::uint64_t hash;
    std::uint32_t index; // none = empty
  };
  std::vector<cell> cells_;
  std::size_t mask_ = 0, count_ = 0;
};
} // namespace detail

class job_scheduler {
public:
  using clock = std::chrono::steady_clock;

  // Default for window(): enough to keep a few hundred connections busy.
  static constexpr std::size_t default_window = 4096;

  // `window` is the advisory cap on held updates; memory for it is reserved up front, so
  // steady-state operation does not allocate. Pushing beyond it works (it grows).
  explicit job_scheduler(std::size_t window = default_window);

  // Adds an update. `handle` is the engine's opaque id for it (unique among held updates);
  // the job id is copied into storage that is reused, so the caller's string may go away.
  // Throws std::logic_error if `handle` is already held.
  void push(std::uint64_t handle, std::string_view job_id);

  // The next update to send, marking it in flight: first a deferred retry that is due at
  // `now` (earliest first), else the longest-waiting ready update. nullopt if none.
  std::optional<std::uint64_t> next(clock::time_point now);

  // An in-flight update must be tried again at `ready_at`; it keeps blocking its job.
  // Throws std::logic_error if `handle` is not in flight.
  void defer(std::uint64_t handle, clock::time_point ready_at);

  // An in-flight update is finished (whatever the outcome); its job's next update becomes
  // ready. Throws std::logic_error if `handle` is not in flight.
  void complete(std::uint64_t handle);

  // Removes every held update that is not in flight (ready, deferred, or waiting behind
  // another) and returns their handles, for the engine to settle when the run stops.
  // In-flight updates stay until completed.
  std::vector<std::uint64_t> take_waiting();

  // When the earliest deferred update becomes due (the engine sleeps until then).
  std::optional<clock::time_point> next_due() const noexcept;

  std::size_t size() const noexcept { return held_; } // held updates
  bool empty() const noexcept { return held_ == 0; }
  std::size_t window() const noexcept { return window_; }
  bool has_room() const noexcept { return held_ < window_; } // the reader may push
  std::size_t ready_count() const noexcept { return ready_size_; }
  std::size_t deferred_count() const noexcept { return deferred_.size(); }
  std::size_t in_flight_count() const noexcept { return in_flight_; }
  std::size_t job_count() const noexcept { return jobs_held_; }

private:
  static constexpr std::uint32_t none = UINT32_MAX;
  enum class state : std::uint8_t { waiting, ready, in_flight, deferred };

  struct entry {
    std::uint64_t handle = 0;
    std::uint32_t job = none;
    std::uint32_t next = none; // next update of the same job, or the free list
    state st = state::waiting;
  };
  struct job {
    std::string id; // capacity kept when the slot is reused
    std::uint64_t hash = 0;
    std::uint32_t head = none, tail = none; // the current update and the last pushed
  };
  struct timed {
    clock::time_point at;
    std::uint64_t seq; // FIFO among equal times
    std::uint32_t entry;
  };
  std::uint32_t entry_of(std::uint64_t handle) const noexcept;
  std::uint32_t in_flight_entry(std::uint64_t handle, const char* what) const;
  void make_ready(std::uint32_t e);
  std::uint32_t pop_ready() noexcept;
  void release_entry(std::uint32_t e);
  void release_job(std::uint32_t j);

  std::size_t window_;
  std::vector<entry> entries_;
  std::uint32_t free_entries_ = none;
  std::vector<job> jobs_;
  std::vector<std::uint32_t> free_jobs_;
  // bench/scheduler_index_bench.cpp chose these (figures in HACKING.md): Boost's flat map
  // is ~2.7x faster for integer handles and does not allocate after reserve() under the
  // scheduler's churn; for job ids our flat_index over the reused jobs_ strings is ~1.8x
  // faster and never allocates, where a map keyed by std::string copies each id.
  boost::unordered_flat_map<std::uint64_t, std::uint32_t> by_handle_;
  detail::flat_index by_job_;
  std::vector<std::uint32_t> ready_; // ring buffer, power-of-two size
  std::size_t ready_head_ = 0, ready_size_ = 0;
  std::vector<timed> deferred_; // min-heap on (at, seq)
  std::uint64_t seq_ = 0;
  std::size_t held_ = 0, in_flight_ = 0, jobs_held_ = 0;
};

} // namespace jobpatch
