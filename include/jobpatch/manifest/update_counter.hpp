#pragma once
// Counts the updates of each job seen so far, for operation::seq (the resume key).
//
// An exact count needs to remember every distinct job of the manifest: one pass over a
// stream cannot tell a new job from one seen millions of lines before without it. So the
// cost per distinct job is the floor, and this keeps it small: one 64-bit cell per job
// (a 56-bit tag of the job's hash and an 8-bit count), in 64 tables that grow by half at
// 4/5 load, one at a time: 10-15 bytes per distinct job (about 12.5 on average), with
// no doubling spike while a table grows. Jobs counted past 254 move their count to a side
// map (about 34 bytes more each, only for those: a job with that many updates costs
// less than a byte per line).
//
// Two jobs whose hashes share a tag (about n^2/2^57 for n counted jobs: 7e-6 for 1 M,
// 7e-4 for 10 M) would be counted as one: the later job's seq is off, which changes its
// resume key, so a resumed run sends its updates again; it never makes a run skip one (the
// fingerprint hashes the job id itself).

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace jobpatch {

class update_counter {
public:
  // Counts one more update of the job with 64-bit hash `job_hash`; returns how many of
  // its updates were counted, this one included (1 for a job's first).
  std::uint32_t bump(std::uint64_t job_hash);

  // Counts one more update of a job already known here (see restart()); returns 0 and
  // counts nothing for any other job.
  std::uint32_t bump_known(std::uint64_t job_hash);
  // Keeps the jobs, forgets their counts: bump_known() counts from 1 again.
  void restart();

  std::size_t jobs() const noexcept { return jobs_; }
  // Bytes held by the tables (capacity, not size).
  std::size_t memory_bytes() const noexcept;

private:
  static constexpr unsigned shard_bits = 6;
  static constexpr std::uint64_t count_mask = 0xFF;
  static constexpr std::uint64_t saturated = 255; // the count is in many_
  struct table {
    std::vector<std::uint64_t> cells; // tag | count; 0 = empty
    std::size_t count = 0;
  };
  static std::size_t home(const table& t, std::uint64_t mixed) noexcept;
  static void grow(table& t);
  static std::uint64_t tag_of(std::uint64_t job_hash) noexcept;
  // The cell's count plus one (moving it to many_ past the cell's range).
  std::uint32_t bump_cell(std::uint64_t& cell, std::uint64_t tag);

  std::vector<table> tables_; // 2^shard_bits once the first job is counted
  boost::unordered_flat_map<std::uint64_t, std::uint32_t> many_; // tag -> count (>= 255)
  std::size_t jobs_ = 0;
};

// Finds, in a first pass over a manifest file, the jobs that may have more than one update,
// so that the second pass needs a count only for those: a job seen once gets seq 1 without
// a cell. A blocked Bloom filter of a fixed size answers "maybe seen before"; those jobs
// (every job seen twice, plus the filter's false positives) go to an update_counter. On a
// manifest of distinct jobs that keeps the second pass to a few bytes per 100 jobs instead
// of 10-15 bytes per job; the filter is freed before the second pass starts.
class repeat_finder {
public:
  // `filter_bytes` (rounded up to 64-byte blocks): 9 bits per job keep false positives
  // near 0.3 % (6.7 bits: 0.9 %); fewer bits only let more single jobs be counted.
  explicit repeat_finder(std::size_t filter_bytes);

  // One valid update of the job with hash `job_hash` (resume_state::job_hash).
  void add(std::uint64_t job_hash);

  // The jobs that may occur more than once, their counts restarted (see
  // update_counter::bump_known); frees the filter.
  update_counter take();

  std::size_t filter_bytes() const noexcept { return blocks_.size() * sizeof(block); }

private:
  struct alignas(64) block {
    std::uint64_t words[8];
  };
  std::vector<block> blocks_;
  update_counter repeated_;
};

} // namespace jobpatch
