#include <jobpatch/manifest/update_counter.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

using jobpatch::update_counter;

TEST_CASE("update_counter: counts each job's updates exactly, past the 8-bit cell count") {
  update_counter c;
  std::map<std::uint64_t, std::uint32_t> model;
  std::mt19937_64 rng(13);
  // Few jobs with long runs (past the saturated cell count of 255) among many of one update.
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t job = rng() % 4 == 0 ? rng() % 50 : rng();
    REQUIRE(c.bump(job) == ++model[job]);
  }
  CHECK(c.jobs() == model.size());
  CHECK(model[7] > 500);
}

TEST_CASE("update_counter: a hash of 0 and hashes that differ only in low bits are apart") {
  update_counter c;
  CHECK(c.bump(0) == 1);
  CHECK(c.bump(0) == 2);
  for (std::uint64_t h = 1; h < 64; ++h) CHECK(c.bump(h) == 1);
  CHECK(c.bump(0) == 3);
  CHECK(c.jobs() == 64);
}

TEST_CASE("update_counter: at most 16 bytes per distinct job, whatever the count") {
  for (std::uint64_t n : {1000ULL, 100000ULL, 300000ULL}) {
    update_counter c;
    for (std::uint64_t i = 0; i < n; ++i) c.bump(i * 0x9E3779B97F4A7C15ULL);
    CAPTURE(n);
    // 64 tables of at least 16 cells each for small counts.
    CHECK(c.memory_bytes() <= std::max<std::size_t>(16 * n, 64 * 16 * 8 + 64 * 32));
  }
}

TEST_CASE("update_counter: bump_known counts only known jobs, restart keeps them") {
  update_counter c;
  CHECK(c.bump_known(5) == 0);
  c.bump(5);
  c.bump(5);
  c.restart();
  CHECK(c.bump_known(6) == 0);
  CHECK(c.bump_known(5) == 1);
  for (std::uint32_t n = 2; n < 300; ++n) REQUIRE(c.bump_known(5) == n); // past the cell's range
  c.restart();
  CHECK(c.bump_known(5) == 1);
}

TEST_CASE("repeat_finder: two passes give every update the seq one exact count gives") {
  // Any filter size: a smaller one only lets more single jobs be counted.
  for (std::size_t filter_bytes : {64ULL, 4096ULL, 1ULL << 20}) {
    std::mt19937_64 rng(filter_bytes);
    std::vector<std::uint64_t> manifest;
    for (int i = 0; i < 100000; ++i)
      manifest.push_back(rng() % 3 == 0 ? rng() % 2000 : rng()); // repeats among singles
    jobpatch::repeat_finder finder(filter_bytes);
    for (std::uint64_t job : manifest) finder.add(job);
    update_counter repeated = finder.take();
    update_counter exact;
    std::map<std::uint64_t, unsigned> occurrences;
    for (std::uint64_t job : manifest) ++occurrences[job];
    for (std::uint64_t job : manifest) {
      std::uint32_t known = repeated.bump_known(job);
      // Not known: the job's only update (operation::only_update), never a repeated one.
      if (known == 0) REQUIRE(occurrences[job] == 1);
      REQUIRE(std::max<std::uint32_t>(1, known) == exact.bump(job));
    }
    CAPTURE(filter_bytes);
    if (filter_bytes == 1ULL << 20) CHECK(repeated.jobs() < 2000 + 2000); // ~1 % of singles
  }
}

TEST_CASE("repeat_finder: a manifest of distinct jobs leaves almost nothing to count") {
  // 10 bits per job: about 1 % false positives.
  const std::size_t jobs = 200000;
  jobpatch::repeat_finder finder(jobs * 10 / 8);
  for (std::uint64_t i = 0; i < jobs; ++i) finder.add(i * 0x9E3779B97F4A7C15ULL + 1);
  CHECK(finder.filter_bytes() >= jobs * 10 / 8);
  update_counter repeated = finder.take();
  CHECK(repeated.jobs() < jobs / 50);
  CHECK(finder.filter_bytes() == 0); // freed
}
