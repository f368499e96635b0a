#include <jobpatch/manifest/update_counter.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>

using jobpatch::update_counter;

TEST_CASE("update_counter: counts each job's updates exactly, past the 4-bit cell count") {
  update_counter c;
  std::map<std::uint64_t, std::uint32_t> model;
  std::mt19937_64 rng(13);
  // Few jobs with long runs (past the saturated cell count of 15) among many of one update.
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t job = rng() % 4 == 0 ? rng() % 50 : rng();
    REQUIRE(c.bump(job) == ++model[job]);
  }
  CHECK(c.jobs() == model.size());
  CHECK(model[7] > 100);
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
