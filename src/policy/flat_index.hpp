#pragma once
// detail::flat_index's members (declared in job_scheduler.hpp): the scheduler's job id ->
// job lookup, kept over boost::unordered_flat_map on the figures of
// bench/scheduler_index_bench.cpp (see HACKING.md); the bench includes this header too.

#include <jobpatch/policy/job_scheduler.hpp>

#include <algorithm>
#include <bit>

namespace jobpatch::detail {

inline void flat_index::reserve(std::size_t count) {
  std::size_t want = std::bit_ceil(std::max<std::size_t>(16, count * 2));
  if (want <= cells_.size()) return;
  std::vector<cell> old = std::move(cells_);
  cells_.assign(want, cell{0, none});
  mask_ = want - 1;
  count_ = 0;
  for (const cell& c : old)
    if (c.index != none) insert(c.hash, c.index);
}

template <class Eq>
std::uint32_t flat_index::find(std::uint64_t hash, Eq&& eq) const {
  if (cells_.empty()) return none;
  for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const cell& c = cells_[i];
    if (c.index == none) return none;
    if (c.hash == hash && eq(c.index)) return c.index;
  }
}

inline void flat_index::insert(std::uint64_t hash, std::uint32_t index) {
  if ((count_ + 1) * 2 > cells_.size()) reserve(count_ + 1); // load factor <= 1/2
  std::size_t i = hash & mask_;
  while (cells_[i].index != none) i = (i + 1) & mask_;
  cells_[i] = {hash, index};
  ++count_;
}

inline void flat_index::erase(std::uint64_t hash, std::uint32_t index) {
  std::size_t i = hash & mask_;
  while (cells_[i].index != index) i = (i + 1) & mask_; // present by contract
  // Backward-shift deletion: pull later members of the probe run into the hole so that
  // lookups never need tombstones.
  for (std::size_t k = (i + 1) & mask_; cells_[k].index != none; k = (k + 1) & mask_) {
    std::size_t home = cells_[k].hash & mask_;
    if (((k - home) & mask_) >= ((k - i) & mask_)) {
      cells_[i] = cells_[k];
      i = k;
    }
  }
  cells_[i] = {0, none};
  --count_;
}

} // namespace jobpatch::detail
