#pragma once
// The apply engine's updates in flight, by handle: a slot holds one update from the
// reader's hand-over until its final outcome. Handles are dense slot numbers (the
// scheduler indexes a vector by them) and a finished slot is reused with its strings'
// storage, so steady state allocates nothing.

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/wire/job_document.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace jobpatch::net {

// One update held by the engine, from the reader until its final outcome.
struct slot {
  using clock = std::chrono::steady_clock;
  operation op;
  std::string raw_line;
  std::string target; // request path, encoded once
  unsigned attempts = 0;
  bool auth_retried = false; // a 401 already led to one token refresh
  clock::time_point first_send{};
  int last_status = 0;
  std::string last_error;
  std::string fail_reason;      // the summaries' byError key when the line ends failed
  std::size_t held_bytes = 0;   // counted against the byte window until final
  bool withheld_before = false; // --resume: an earlier run withheld it too
  bool in_use = false;
  // Read first (plan, --skip-unchanged, --undo-out): a GET of the job, then the PATCH.
  // Untouched (no allocation) by a plain apply.
  unsigned reads = 0;      // GET attempts
  bool read_done = false;  // the document was read: the PATCH is next
  std::string read_target; // the job's own path
  std::string undo_line;   // restores what the PATCH changes; empty = nothing to restore
  field_mask undo_fields = 0;
  bool patch_in_doubt = false; // a PATCH went unanswered: it may have been applied
};

class slot_table {
public:
  // A free slot, in use from now on: a finished one (its strings' storage kept) or a new
  // one. Its fields are the last update's: the caller sets what the new one needs.
  std::uint64_t acquire() {
    std::uint64_t handle;
    if (!free_.empty()) {
      handle = free_.back();
      free_.pop_back();
    } else {
      handle = slots_.size();
      slots_.emplace_back();
    }
    slots_[handle].in_use = true;
    return handle;
  }

  // The update of `handle` is final: the slot is free for the next one.
  void release(std::uint64_t handle) {
    slots_[handle].in_use = false;
    free_.push_back(handle);
  }

  // A reference stays valid while the table grows (a deque never moves its elements), so
  // a worker may hold its slot across a co_await.
  slot& operator[](std::uint64_t handle) noexcept { return slots_[handle]; }
  const slot& operator[](std::uint64_t handle) const noexcept { return slots_[handle]; }
  // Handles ever made: every handle in use is below it.
  std::uint64_t size() const noexcept { return slots_.size(); }

private:
  std::deque<slot> slots_;
  std::vector<std::uint64_t> free_;
};

} // namespace jobpatch::net
