#pragma once
// Per-job ordering of updates: updates of one job id go out in push (manifest) order and
// never two at once; different jobs run in parallel; retries wait in a time-ordered queue
// and keep blocking their job's successors. Two per-job rules on top:
// - withholding: once an update of a job failed for good (fail_job), its later updates are
//   handed out marked withheld, never to be sent: applying them would leave the job in a
//   state the manifest never described, and a re-run of the failed lines would undo them.
//   Not after a 404 (the job does not exist): see failure_withholds();
// - settling: after an attempt that may still be applied late (hold_job), the job's next
//   update is not handed out before the hold ends, so that a late copy lands before it.
// Pure: time is passed in, no threads. Not thread-safe: owned by the engine's thread.
//
// Memory: held updates cost what the window allows; a failed job (but for a 404) costs one
// 64-bit hash of its id (at most 16 bytes with the table's slack), plus a fixed 16 KiB cache of the
// most recent failed lines for messages; holds are dropped once they have ended. Nothing else grows
// with the manifest. Two job ids with the same 64-bit hash (about n*m/2^64 for n failed jobs among
// m jobs: 5e-6 for 10 M of each) would make a healthy job's lines withheld: recorded failed and
// listed for a re-run, never sent wrongly.
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
#include <unordered_map>
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

  // The next update to hand out, marking it in flight: first a deferred retry that is due
  // at `now` (earliest first), else the longest-waiting ready update. An untried update of
  // a job on hold waits (deferred) until the hold ends. An untried update of a failed job
  // is handed out too: check withheld() before sending it. nullopt if none.
  std::optional<std::uint64_t> next(clock::time_point now);

  // For an update just handed out by next(): when its job failed before it was tried,
  // the manifest line that failed first (0 when no longer remembered); nullopt when it
  // may be sent. A withheld update is to be recorded failed and completed.
  std::optional<std::uint64_t> withheld(std::uint64_t handle) const;

  // Whether an update that failed for good with HTTP `status` (0: no answer) withholds
  // its job's later updates: every failure does but a 404. A job that does not exist
  // cannot be updated out of order: its later updates are sent and answer 404 themselves
  // (or apply, if the job was created meanwhile, as the manifest asks), and a manifest of
  // millions of missing jobs costs nothing here.
  static bool failure_withholds(int status) noexcept { return status != 404; }

  // The in-flight update `handle` (of manifest line `line`) failed for good with `status`:
  // unless failure_withholds(status) is false, every later update of its job is withheld,
  // for the rest of the run.
  void fail_job(std::uint64_t handle, std::uint64_t line, int status);
  // The same for a job whose update (line `line`) is not pushed at all: on --resume, a line
  // that failed for good in an earlier run is not sent again, and still withholds the rest
  // (unless it failed with 404).
  void fail_job(std::string_view job_id, std::uint64_t line, int status);

  // The in-flight update `handle` may still be applied late (unanswered, or a gateway's
  // 502/504): its job's untried updates wait until `until`. Its own retries do not.
  void hold_job(std::uint64_t handle, clock::time_point until);

  // An in-flight update was tried and must be tried again at `ready_at`; it keeps blocking
  // its job. Throws std::logic_error if `handle` is not in flight.
  void defer(std::uint64_t handle, clock::time_point ready_at);

  // An in-flight update is finished (whatever the outcome); its job's next update becomes
  // ready. Throws std::logic_error if `handle` is not in flight.
  void complete(std::uint64_t handle);

  // When the earliest deferred update becomes due (the engine sleeps until then).
  std::optional<clock::time_point> next_due() const noexcept;

  std::size_t size() const noexcept { return held_; } // held updates
  bool empty() const noexcept { return held_ == 0; }
  std::size_t deferred_count() const noexcept { return deferred_.size(); }
  // Untried updates that waited for their job's hold to end (once each time they waited).
  std::uint64_t settle_waits() const noexcept { return settle_waits_; }

private:
  static constexpr std::uint32_t none = UINT32_MAX;
  enum class state : std::uint8_t { waiting, ready, in_flight, deferred };

  struct entry {
    std::uint64_t handle = 0;
    std::uint32_t job = none;
    std::uint32_t next = none; // next update of the same job, or the free list
    state st = state::waiting;
    bool tried = false;    // sent at least once (deferred by the engine): never held
    bool withheld = false; // handed out although its job failed: not to be sent
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
  // A set of 64-bit job-id hashes, 8 bytes a cell, grown by half at 4/5 load: at most
  // 15 bytes per member. 0 marks an empty cell (a hash of 0 is stored as 1).
  class hash_set {
  public:
    bool contains(std::uint64_t hash) const noexcept;
    void insert(std::uint64_t hash);
    std::size_t size() const noexcept { return count_; }

  private:
    std::size_t home(std::uint64_t hash) const noexcept;
    std::vector<std::uint64_t> cells_;
    std::size_t count_ = 0;
  };
  struct recent_failure {
    std::uint64_t hash = 0, line = 0;
  };
  static constexpr std::size_t recent_failures = 1024;
  struct hold {
    clock::time_point until;
    std::uint64_t hash;
  };

  std::uint32_t entry_of(std::uint64_t handle) const noexcept;
  void index_handle(std::uint64_t handle, std::uint32_t e);
  void unindex_handle(std::uint64_t handle);
  std::uint64_t job_hash_of(std::uint32_t e) const noexcept;
  void remember_failure(std::uint64_t job_hash, std::uint64_t line);
  // True when entry `e` (untried, just taken) must wait for its job's hold: deferred.
  bool wait_for_hold(std::uint32_t e, std::uint64_t job_hash, clock::time_point now);
  void expire_holds(clock::time_point now);
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
  // Handle -> entry. The engine's handles are its slot numbers, dense and about window()
  // of them: those below direct_handles_ index a table (4 bytes a handle, reserved for the
  // window, none = not held); any other handle goes to by_handle_, so that the opaque
  // handles of the interface keep working. bench/scheduler_index_bench.cpp chose the map
  // (figures in HACKING.md): Boost's flat map is ~2.7x faster than ours for integer keys
  // and does not allocate after reserve(); for job ids our flat_index over the reused
  // jobs_ strings is ~1.8x faster and never allocates, where a map keyed by std::string
  // copies each id.
  std::vector<std::uint32_t> entry_by_handle_;
  std::size_t direct_handles_;
  boost::unordered_flat_map<std::uint64_t, std::uint32_t> by_handle_;
  detail::flat_index by_job_;
  std::vector<std::uint32_t> ready_; // ring buffer, power-of-two size
  std::size_t ready_head_ = 0, ready_size_ = 0;
  std::vector<timed> deferred_; // min-heap on (at, seq)
  std::uint64_t seq_ = 0;
  hash_set failed_jobs_;
  std::vector<recent_failure> recent_failures_; // direct-mapped on the hash, for messages
  std::unordered_map<std::uint64_t, clock::time_point> holds_; // job hash -> hold end
  std::vector<hold> hold_expiry_; // min-heap on until: ended holds are dropped
  std::uint64_t settle_waits_ = 0;
  std::size_t held_ = 0, in_flight_ = 0, jobs_held_ = 0;
};

} // namespace jobpatch
