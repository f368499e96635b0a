// Micro-benchmark: the job scheduler's two lookups (handle -> update, job id -> job) with
// its own detail::flat_index against boost::unordered_flat_map, in the scheduler's steady
// state: a window of 4,096 held updates, each push inserting one key, a lookup, and each
// completion erasing the oldest. Prints ns per (insert + find + erase); not a ctest.
//   build/bench/scheduler_index_bench [ROUNDS]

#include "policy/flat_index.hpp"

#include <boost/container_hash/hash.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using jobpatch::detail::flat_index;
using bench_clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t window = 4096;

// As job_scheduler.cpp: splitmix64 for dense handles, std::hash for job ids.
std::uint64_t hash_handle(std::uint64_t h) noexcept {
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}
std::uint64_t hash_job(std::string_view id) noexcept { return std::hash<std::string_view>{}(id); }

struct transparent_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// Counts allocations after reserve(): the scheduler promises none in steady state.
std::size_t allocations = 0;
template <class T>
struct counting_allocator {
  using value_type = T;
  counting_allocator() = default;
  template <class U>
  counting_allocator(const counting_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    ++allocations;
    return std::allocator<T>{}.allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>{}.deallocate(p, n); }
  bool operator==(const counting_allocator&) const noexcept { return true; }
};

volatile std::uint64_t sink; // keeps the lookups from being optimised away

template <class Body>
double ns_per_op(std::size_t ops, Body&& body) {
  auto start = bench_clock::now();
  body();
  return std::chrono::duration<double, std::nano>(bench_clock::now() - start).count() /
         static_cast<double>(ops);
}

double handles_flat(std::size_t ops) {
  flat_index index;
  index.reserve(window);
  std::vector<std::uint64_t> keys(window * 2);
  return ns_per_op(ops, [&] {
    std::uint64_t found = 0;
    for (std::uint64_t h = 0; h < ops; ++h) {
      auto slot = static_cast<std::uint32_t>(h % keys.size());
      keys[slot] = h;
      index.insert(hash_handle(h), slot);
      std::uint64_t probe = h - h % 97;
      found += index.find(hash_handle(probe), [&](std::uint32_t s) { return keys[s] == probe; });
      if (h >= window) {
        std::uint64_t old = h - window;
        index.erase(hash_handle(old), static_cast<std::uint32_t>(old % keys.size()));
      }
    }
    sink = found;
  });
}

double handles_boost(std::size_t ops) {
  boost::unordered_flat_map<std::uint64_t, std::uint32_t, boost::hash<std::uint64_t>,
                            std::equal_to<>,
                            counting_allocator<std::pair<const std::uint64_t, std::uint32_t>>>
      index;
  index.reserve(window);
  allocations = 0;
  return ns_per_op(ops, [&] {
    std::uint64_t found = 0;
    for (std::uint64_t h = 0; h < ops; ++h) {
      index.emplace(h, static_cast<std::uint32_t>(h % (window * 2)));
      auto it = index.find(h - h % 97);
      found += it == index.end() ? 0 : it->second;
      if (h >= window) index.erase(h - window);
    }
    sink = found;
  });
}

std::vector<std::string> job_ids(std::size_t count, bool long_ids) {
  std::vector<std::string> ids;
  char text[64];
  for (std::size_t i = 0; i < count; ++i) {
    if (long_ids)
      std::snprintf(text, sizeof text, "8c1f2a9e-%04zx-4b1d-9e2f-%012zx", i % 65536, i * 7919);
    else
      std::snprintf(text, sizeof text, "job-%07zu", i);
    ids.emplace_back(text);
  }
  return ids;
}

double jobs_flat(std::size_t ops, const std::vector<std::string>& ids) {
  flat_index index;
  index.reserve(window);
  std::vector<std::string> slots(window * 2); // the scheduler's jobs_ (capacity reused)
  return ns_per_op(ops, [&] {
    std::uint64_t found = 0;
    for (std::size_t i = 0; i < ops; ++i) {
      const std::string& id = ids[i % ids.size()];
      auto slot = static_cast<std::uint32_t>(i % slots.size());
      slots[slot].assign(id);
      index.insert(hash_job(id), slot);
      const std::string& probe = ids[(i - i % 97) % ids.size()];
      found += index.find(hash_job(probe), [&](std::uint32_t s) { return slots[s] == probe; });
      if (i >= window) {
        auto old = static_cast<std::uint32_t>((i - window) % slots.size());
        index.erase(hash_job(slots[old]), old);
      }
    }
    sink = found;
  });
}

double jobs_boost(std::size_t ops, const std::vector<std::string>& ids) {
  boost::unordered_flat_map<std::string, std::uint32_t, transparent_hash, std::equal_to<>> index;
  index.reserve(window);
  return ns_per_op(ops, [&] {
    std::uint64_t found = 0;
    for (std::size_t i = 0; i < ops; ++i) {
      const std::string& id = ids[i % ids.size()];
      index.emplace(id, static_cast<std::uint32_t>(i));
      auto it = index.find(std::string_view(ids[(i - i % 97) % ids.size()]));
      found += it == index.end() ? 0 : it->second;
      if (i >= window) index.erase(ids[(i - window) % ids.size()]);
    }
    sink = found;
  });
}

} // namespace

int main(int argc, char** argv) {
  std::size_t ops = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 4'000'000;
  // Distinct ids within any window, as in a manifest of many jobs.
  auto short_ids = job_ids(window * 4, false), long_ids = job_ids(window * 4, true);
  std::printf("ns per insert + find + erase, window %zu, %zu operations (best of 3)\n", window,
              ops);
  std::printf("%-34s %10s %10s\n", "", "flat_index", "boost");
  auto best = [](auto run) {
    double b = run();
    for (int i = 0; i < 2; ++i) b = std::min(b, run());
    return b;
  };
  std::printf("%-34s %10.1f %10.1f\n", "handles (uint64)", best([&] { return handles_flat(ops); }),
              best([&] { return handles_boost(ops); }));
  std::printf("%-34s %10s %10zu\n", "  allocations after reserve()", "0", allocations);
  std::printf("%-34s %10.1f %10.1f\n", "job ids \"job-0000123\" (SSO)",
              best([&] { return jobs_flat(ops, short_ids); }),
              best([&] { return jobs_boost(ops, short_ids); }));
  std::printf("%-34s %10.1f %10.1f\n", "job ids, 36-char UUIDs (heap)",
              best([&] { return jobs_flat(ops, long_ids); }),
              best([&] { return jobs_boost(ops, long_ids); }));
  std::printf("(boost::unordered_flat_map<std::string, ...> allocates per new job id beyond 15 "
              "bytes; flat_index reuses the scheduler's string slots)\n");
}
