#include <jobpatch/policy/job_scheduler.hpp>

#include "policy/flat_index.hpp"

#include <algorithm>
#include <bit>
#include <functional>
#include <stdexcept>

namespace jobpatch {

namespace {
std::uint64_t hash_job(std::string_view id) noexcept { return std::hash<std::string_view>{}(id); }

// Later-due items sink: std heap functions build a max-heap, so "less" means "due later".
constexpr auto due_later = [](const auto& a, const auto& b) noexcept {
  return a.at != b.at ? a.at > b.at : a.seq > b.seq;
};
// The same for holds: the earliest end on top.
constexpr auto ends_later = [](const auto& a, const auto& b) noexcept { return a.until > b.until; };
} // namespace

// --- hash_set ---------------------------------------------------------------------------

std::size_t job_scheduler::hash_set::home(std::uint64_t hash) const noexcept {
  // Multiply-shift onto any table size, so that the table can grow by half, not double.
  return static_cast<std::size_t>((static_cast<unsigned __int128>(hash) * cells_.size()) >> 64);
}

bool job_scheduler::hash_set::contains(std::uint64_t hash) const noexcept {
  if (count_ == 0) return false;
  if (hash == 0) hash = 1;
  for (std::size_t i = home(hash);; i = i + 1 == cells_.size() ? 0 : i + 1) {
    if (cells_[i] == hash) return true;
    if (cells_[i] == 0) return false;
  }
}

void job_scheduler::hash_set::insert(std::uint64_t hash) {
  if (hash == 0) hash = 1;
  if ((count_ + 1) * 5 > cells_.size() * 4) {
    std::vector<std::uint64_t> old = std::move(cells_);
    cells_.assign(std::max<std::size_t>(16, old.size() + old.size() / 2), 0);
    count_ = 0;
    for (std::uint64_t h : old)
      if (h != 0) insert(h);
  }
  std::size_t i = home(hash);
  while (cells_[i] != 0) {
    if (cells_[i] == hash) return;
    i = i + 1 == cells_.size() ? 0 : i + 1;
  }
  cells_[i] = hash;
  ++count_;
}

// --- job_scheduler ----------------------------------------------------------------------

job_scheduler::job_scheduler(std::size_t window)
    : window_(std::max<std::size_t>(1, window)), direct_handles_(4 * window_ + 1024) {
  entries_.reserve(window_);
  jobs_.reserve(window_);
  free_jobs_.reserve(window_);
  entry_by_handle_.reserve(window_);
  by_job_.reserve(window_);
  ready_.resize(std::bit_ceil(window_));
  deferred_.reserve(window_);
}

std::uint32_t job_scheduler::entry_of(std::uint64_t handle) const noexcept {
  if (handle < entry_by_handle_.size()) return entry_by_handle_[handle];
  if (by_handle_.empty()) return none;
  auto it = by_handle_.find(handle);
  return it == by_handle_.end() ? none : it->second;
}

void job_scheduler::index_handle(std::uint64_t handle, std::uint32_t e) {
  if (handle >= direct_handles_) {
    by_handle_.emplace(handle, e);
    return;
  }
  if (handle >= entry_by_handle_.size()) {
    // Up to the capacity at once (one fill, not one per new handle), never past
    // direct_handles_: entry_of() looks a handle up in the table whenever it is in range.
    std::size_t size = std::max<std::size_t>(handle + 1, entry_by_handle_.capacity());
    entry_by_handle_.resize(std::min(size, direct_handles_), none);
  }
  entry_by_handle_[handle] = e;
}

void job_scheduler::unindex_handle(std::uint64_t handle) {
  if (handle < entry_by_handle_.size())
    entry_by_handle_[handle] = none;
  else
    by_handle_.erase(handle);
}

std::uint32_t job_scheduler::in_flight_entry(std::uint64_t handle, const char* what) const {
  std::uint32_t e = entry_of(handle);
  if (e == none || entries_[e].st != state::in_flight)
    throw std::logic_error(std::string("job_scheduler::") + what +
                           ": update is not in flight (handle " + std::to_string(handle) + ")");
  return e;
}

void job_scheduler::make_ready(std::uint32_t e) {
  if (ready_size_ == ready_.size()) {
    // Grow the ring, unrolling it so that the oldest stays first.
    std::vector<std::uint32_t> bigger(ready_.size() * 2);
    for (std::size_t k = 0; k < ready_size_; ++k)
      bigger[k] = ready_[(ready_head_ + k) & (ready_.size() - 1)];
    ready_ = std::move(bigger);
    ready_head_ = 0;
  }
  ready_[(ready_head_ + ready_size_) & (ready_.size() - 1)] = e;
  ++ready_size_;
  entries_[e].st = state::ready;
}

std::uint32_t job_scheduler::pop_ready() noexcept {
  std::uint32_t e = ready_[ready_head_];
  ready_head_ = (ready_head_ + 1) & (ready_.size() - 1);
  --ready_size_;
  return e;
}

void job_scheduler::push(std::uint64_t handle, std::string_view job_id) {
  if (entry_of(handle) != none)
    throw std::logic_error("job_scheduler::push: handle " + std::to_string(handle) +
                           " is already held");
  std::uint32_t e;
  if (free_entries_ != none) {
    e = free_entries_;
    free_entries_ = entries_[e].next;
  } else {
    e = static_cast<std::uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  entries_[e] = entry{handle, none, none, state::waiting, false, false};
  index_handle(handle, e);
  ++held_;

  std::uint64_t jh = hash_job(job_id);
  std::uint32_t j = by_job_.find(jh, [&](std::uint32_t k) { return jobs_[k].id == job_id; });
  if (j != none) {
    // The job already has a current update: wait behind its last one.
    entries_[e].job = j;
    entries_[jobs_[j].tail].next = e;
    jobs_[j].tail = e;
    return;
  }
  if (!free_jobs_.empty()) {
    j = free_jobs_.back();
    free_jobs_.pop_back();
  } else {
    j = static_cast<std::uint32_t>(jobs_.size());
    jobs_.emplace_back();
  }
  job& jb = jobs_[j];
  jb.id.assign(job_id.data(), job_id.size()); // reuses the slot's capacity
  jb.hash = jh;
  jb.head = jb.tail = e;
  by_job_.insert(jh, j);
  ++jobs_held_;
  entries_[e].job = j;
  make_ready(e);
}

std::optional<std::uint64_t> job_scheduler::next(clock::time_point now) {
  if (!hold_expiry_.empty()) expire_holds(now);
  while (true) {
    std::uint32_t e;
    if (!deferred_.empty() && deferred_.front().at <= now) {
      e = deferred_.front().entry;
      std::pop_heap(deferred_.begin(), deferred_.end(), due_later);
      deferred_.pop_back();
    } else if (ready_size_ > 0) {
      e = pop_ready();
    } else {
      return std::nullopt;
    }
    entry& en = entries_[e];
    en.withheld = false;
    if (!en.tried && (failed_jobs_.size() > 0 || !holds_.empty())) {
      std::uint64_t hash = job_hash_of(e);
      if (failed_jobs_.contains(hash))
        en.withheld = true; // handed out to be recorded, not sent
      else if (wait_for_hold(e, hash, now))
        continue;
    }
    en.st = state::in_flight;
    ++in_flight_;
    return en.handle;
  }
}

// The hash push() computed (a held entry's job is held): once any job has failed or is on
// hold, next() needs it for every update it hands out.
std::uint64_t job_scheduler::job_hash_of(std::uint32_t e) const noexcept {
  return jobs_[entries_[e].job].hash;
}

bool job_scheduler::wait_for_hold(std::uint32_t e, std::uint64_t job_hash, clock::time_point now) {
  auto it = holds_.find(job_hash);
  if (it == holds_.end() || it->second <= now) return false;
  entries_[e].st = state::deferred;
  deferred_.push_back({it->second, seq_++, e});
  std::push_heap(deferred_.begin(), deferred_.end(), due_later);
  ++settle_waits_;
  return true;
}

void job_scheduler::expire_holds(clock::time_point now) {
  while (!hold_expiry_.empty() && hold_expiry_.front().until <= now) {
    std::uint64_t hash = hold_expiry_.front().hash;
    std::pop_heap(hold_expiry_.begin(), hold_expiry_.end(), ends_later);
    hold_expiry_.pop_back();
    // A later hold of the same job keeps it (its own expiry entry comes later).
    if (auto it = holds_.find(hash); it != holds_.end() && it->second <= now) holds_.erase(it);
  }
}

std::optional<std::uint64_t> job_scheduler::withheld(std::uint64_t handle) const {
  std::uint32_t e = entry_of(handle);
  if (e == none || !entries_[e].withheld) return std::nullopt;
  std::uint64_t hash = job_hash_of(e);
  if (recent_failures_.empty()) return 0;
  const recent_failure& r = recent_failures_[hash % recent_failures];
  return r.hash == hash ? r.line : 0;
}

void job_scheduler::fail_job(std::uint64_t handle, std::uint64_t line, int status) {
  std::uint32_t e = in_flight_entry(handle, "fail_job"); // misuse is reported even for 404
  if (failure_withholds(status)) remember_failure(job_hash_of(e), line);
}

void job_scheduler::fail_job(std::string_view job_id, std::uint64_t line, int status) {
  if (failure_withholds(status)) remember_failure(hash_job(job_id), line);
}

void job_scheduler::remember_failure(std::uint64_t hash, std::uint64_t line) {
  if (failed_jobs_.contains(hash)) return; // the first failed line is the one to name
  failed_jobs_.insert(hash);
  if (recent_failures_.empty()) recent_failures_.resize(recent_failures);
  recent_failures_[hash % recent_failures] = {hash, line};
}

void job_scheduler::hold_job(std::uint64_t handle, clock::time_point until) {
  std::uint64_t hash = job_hash_of(in_flight_entry(handle, "hold_job"));
  auto [it, inserted] = holds_.try_emplace(hash, until);
  if (!inserted) it->second = std::max(it->second, until);
  hold_expiry_.push_back({until, hash});
  std::push_heap(hold_expiry_.begin(), hold_expiry_.end(), ends_later);
}

void job_scheduler::defer(std::uint64_t handle, clock::time_point ready_at) {
  std::uint32_t e = in_flight_entry(handle, "defer");
  entries_[e].st = state::deferred;
  entries_[e].tried = true;
  --in_flight_;
  deferred_.push_back({ready_at, seq_++, e});
  std::push_heap(deferred_.begin(), deferred_.end(), due_later);
}

void job_scheduler::release_entry(std::uint32_t e) {
  unindex_handle(entries_[e].handle);
  entries_[e].st = state::waiting;
  entries_[e].job = none;
  entries_[e].next = free_entries_;
  free_entries_ = e;
  --held_;
}

void job_scheduler::release_job(std::uint32_t j) {
  by_job_.erase(jobs_[j].hash, j);
  jobs_[j].head = jobs_[j].tail = none;
  free_jobs_.push_back(j);
  --jobs_held_;
}

void job_scheduler::complete(std::uint64_t handle) {
  std::uint32_t e = in_flight_entry(handle, "complete");
  --in_flight_;
  std::uint32_t j = entries_[e].job;
  std::uint32_t successor = entries_[e].next;
  release_entry(e);
  if (successor == none) {
    release_job(j);
  } else {
    jobs_[j].head = successor;
    make_ready(successor);
  }
}

std::optional<job_scheduler::clock::time_point> job_scheduler::next_due() const noexcept {
  if (deferred_.empty()) return std::nullopt;
  return deferred_.front().at;
}

} // namespace jobpatch
