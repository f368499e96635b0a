#include "net/block_cache.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

using jobpatch::net::block_cache;
using jobpatch::net::thread_cache_state;
namespace net = jobpatch::net;

namespace {

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

void fill(void* p, std::size_t n, unsigned char seed) {
  auto* bytes = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<unsigned char>(seed + i);
}

bool holds(const void* p, std::size_t n, unsigned char seed) {
  const auto* bytes = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (bytes[i] != static_cast<unsigned char>(seed + i)) return false;
  return true;
}

} // namespace

TEST_CASE("block_cache: classes are powers of two from 16 to 2048 bytes, then large") {
  CHECK(block_cache::class_of(0) == 0);
  CHECK(block_cache::class_of(1) == 0);
  CHECK(block_cache::class_of(16) == 0);
  CHECK(block_cache::class_of(17) == 1);
  CHECK(block_cache::class_of(32) == 1);
  CHECK(block_cache::class_of(33) == 2);
  CHECK(block_cache::class_of(1024) == 6);
  CHECK(block_cache::class_of(1025) == 7);
  CHECK(block_cache::class_of(2048) == 7);
  CHECK(block_cache::class_of(2049) == block_cache::large);
  for (std::uint32_t c = 0; c < block_cache::class_count; ++c)
    CHECK(block_cache::class_of(block_cache::class_bytes(c)) == c);
  CHECK(block_cache::class_bytes(block_cache::class_count - 1) == block_cache::largest_class_bytes);
}

TEST_CASE("block_cache: a freed block is reused by its class only, and stays aligned") {
  block_cache cache;
  void* a = cache.allocate(100); // class 128
  REQUIRE(a != nullptr);
  CHECK(aligned(a));
  fill(a, 128, 7); // the whole class is usable
  cache.release(a);
  CHECK(cache.cached_blocks(3) == 1);
  void* other = cache.allocate(300); // class 512: not the cached one
  CHECK(other != a);
  CHECK(cache.allocate(65) == a); // class 128 again: the same block
  CHECK(cache.cached_blocks() == 0);
  cache.release(a);
  cache.release(other);
  cache.release(nullptr); // fine
  CHECK(cache.cached_blocks() == 2);
  cache.close();
}

TEST_CASE("block_cache: zero bytes give a smallest block, large blocks are never cached") {
  block_cache cache;
  void* zero = cache.allocate(0);
  REQUIRE(zero != nullptr);
  cache.release(zero);
  CHECK(cache.cached_blocks(0) == 1);
  void* big = cache.allocate(5000);
  REQUIRE(big != nullptr);
  CHECK(aligned(big));
  fill(big, 5000, 3);
  cache.release(big);
  CHECK(cache.cached_blocks() == 1);
  cache.close();
}

TEST_CASE("block_cache: each class keeps a bounded number of blocks, the rest go to free") {
  block_cache cache;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < 3 * block_cache::blocks_per_class; ++i)
    blocks.push_back(cache.allocate(40));
  for (void* b : blocks) cache.release(b);
  CHECK(cache.cached_blocks(2) == block_cache::blocks_per_class);
  CHECK(cache.cached_blocks() == block_cache::blocks_per_class);
  cache.close();
  CHECK(cache.closed());
  CHECK(cache.cached_blocks() == 0);
}

TEST_CASE("block_cache: a closed cache passes every call through to malloc and free") {
  block_cache cache;
  void* kept = cache.allocate(20);
  cache.close();
  cache.release(kept);
  CHECK(cache.cached_blocks() == 0);
  void* fresh = cache.allocate(20);
  REQUIRE(fresh != nullptr);
  fill(fresh, 32, 1);
  cache.release(fresh);
  CHECK(cache.cached_blocks() == 0);
  block_cache passthrough(false);
  CHECK(passthrough.closed());
  void* p = passthrough.allocate(64);
  passthrough.release(p);
  CHECK(passthrough.cached_blocks() == 0);
}

TEST_CASE("block_cache: realloc in place within a class, copies when the class changes") {
  block_cache cache;
  SUBCASE("null allocates, zero frees") {
    void* p = cache.reallocate(nullptr, 24);
    REQUIRE(p != nullptr);
    CHECK(cache.reallocate(p, 0) == nullptr);
    CHECK(cache.cached_blocks(1) == 1);
  }
  SUBCASE("same class: the same block") {
    void* p = cache.allocate(70);
    fill(p, 70, 9);
    CHECK(cache.reallocate(p, 128) == p);
    CHECK(cache.reallocate(p, 65) == p);
    CHECK(holds(p, 65, 9));
    cache.release(p);
  }
  SUBCASE("grow to another class, then to large, then larger: contents follow") {
    void* p = cache.allocate(30);
    fill(p, 30, 5);
    void* q = cache.reallocate(p, 500);
    REQUIRE(q != nullptr);
    CHECK(q != p);
    CHECK(aligned(q));
    CHECK(holds(q, 30, 5));
    CHECK(cache.cached_blocks(1) == 1); // the old block went back to its list
    fill(q, 500, 6);
    void* big = cache.reallocate(q, 3000);
    REQUIRE(big != nullptr);
    CHECK(aligned(big));
    CHECK(holds(big, 500, 6));
    fill(big, 3000, 8);
    void* bigger = cache.reallocate(big, 100000);
    REQUIRE(bigger != nullptr);
    CHECK(aligned(bigger));
    CHECK(holds(bigger, 3000, 8));
    // A large block shrunk to a small size stays large: freed, it is not cached.
    void* small = cache.reallocate(bigger, 10);
    REQUIRE(small != nullptr);
    CHECK(holds(small, 10, 8));
    std::size_t before = cache.cached_blocks();
    cache.release(small);
    CHECK(cache.cached_blocks() == before);
  }
  SUBCASE("shrink to a smaller class: the prefix is copied") {
    void* p = cache.allocate(1500);
    fill(p, 1500, 2);
    void* q = cache.reallocate(p, 40);
    REQUIRE(q != nullptr);
    CHECK(q != p);
    CHECK(holds(q, 40, 2));
    CHECK(cache.cached_blocks(7) == 1);
    cache.release(q);
  }
  cache.close();
}

TEST_CASE("thread cache: a block freed on another thread is safe and reused there") {
  void* from_worker = nullptr;
  std::thread worker([&] {
    from_worker = net::thread_cache_allocate(200);
    fill(from_worker, 200, 4);
  });
  worker.join();
  REQUIRE(from_worker != nullptr);
  CHECK(holds(from_worker, 200, 4));

  std::thread other([&] {
    void* own = net::thread_cache_allocate(8); // opens this thread's cache
    net::thread_cache_release(from_worker);    // a block of another (ended) thread
    CHECK(net::this_thread_cached_blocks() == 1);
    CHECK(net::thread_cache_allocate(256) == from_worker);
    net::thread_cache_release(from_worker);
    net::thread_cache_release(own);
    CHECK(net::this_thread_cached_blocks() == 2);
  });
  other.join();
}

TEST_CASE("thread cache: a thread that never allocated keeps nothing it frees") {
  void* block = net::thread_cache_allocate(64);
  std::thread freer([&] {
    net::thread_cache_release(block);
    CHECK(net::this_thread_cache_state() == thread_cache_state::unused);
    CHECK(net::this_thread_cached_blocks() == 0);
  });
  freer.join();
}

namespace {
// Built before a thread's first allocation, so destroyed after the cache closed: the order
// in which OpenSSL's own per-thread cleanup and atexit handlers free their blocks.
struct late_destructor {
  void* block = nullptr;
  thread_cache_state seen = thread_cache_state::unused;
  std::size_t cached_after_free = 99;
  void* allocated_late = nullptr;
  std::vector<void*>* handed_out = nullptr;
  std::mutex* handed_out_mutex = nullptr;
  ~late_destructor() {
    seen = net::this_thread_cache_state();
    net::thread_cache_release(block);
    cached_after_free = net::this_thread_cached_blocks();
    allocated_late = net::thread_cache_allocate(48);
    fill(allocated_late, 48, 1);
    std::lock_guard lock(*handed_out_mutex);
    handed_out->push_back(allocated_late);
    // Reported through the handed-out list: this object is gone after this.
    handed_out->push_back(reinterpret_cast<void*>(static_cast<std::uintptr_t>(seen)));
    handed_out->push_back(reinterpret_cast<void*>(cached_after_free));
  }
};
thread_local late_destructor late;
} // namespace

TEST_CASE("thread cache: frees and allocations after the thread's cache closed go to the heap") {
  std::vector<void*> handed_out;
  std::mutex handed_out_mutex;
  std::thread worker([&] {
    late.handed_out = &handed_out;
    late.handed_out_mutex = &handed_out_mutex;
    void* kept = net::thread_cache_allocate(100);
    void* cached = net::thread_cache_allocate(100);
    net::thread_cache_release(cached);
    CHECK(net::this_thread_cache_state() == thread_cache_state::open);
    CHECK(net::this_thread_cached_blocks() == 1);
    late.block = kept; // freed by late's destructor, after the cache closed
  });
  worker.join();
  REQUIRE(handed_out.size() == 3);
  CHECK(static_cast<thread_cache_state>(reinterpret_cast<std::uintptr_t>(handed_out[1])) ==
        thread_cache_state::closed);
  CHECK(reinterpret_cast<std::uintptr_t>(handed_out[2]) == 0);
  CHECK(holds(handed_out[0], 48, 1));
  net::thread_cache_release(handed_out[0]); // allocated on a closed cache: a plain block
}

TEST_CASE("thread cache: many threads allocating, resizing and freeing each other's blocks") {
  constexpr int threads = 8;
  constexpr int rounds = 2000;
  std::mutex shared_mutex;
  std::vector<std::pair<void*, std::size_t>> shared; // blocks in flight between threads
  std::vector<std::thread> pool;
  std::vector<int> corrupt(threads, 0);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::uint32_t state = 2463534242u + static_cast<std::uint32_t>(t);
      auto next = [&] {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
      };
      for (int r = 0; r < rounds; ++r) {
        std::size_t n = next() % 3000;
        void* p = net::thread_cache_allocate(n);
        unsigned char seed = static_cast<unsigned char>(n);
        fill(p, n, seed);
        if (next() % 4 == 0) {
          std::size_t m = next() % 3000;
          p = net::thread_cache_reallocate(p, m == 0 ? 1 : m);
          if (!holds(p, std::min(n, m == 0 ? std::size_t{1} : m), seed)) ++corrupt[t];
          n = m == 0 ? 1 : m;
          fill(p, n, static_cast<unsigned char>(n));
        }
        std::pair<void*, std::size_t> taken{nullptr, 0};
        {
          std::lock_guard lock(shared_mutex);
          shared.emplace_back(p, n);
          if (shared.size() > 16) {
            taken = shared[next() % shared.size()];
            std::erase(shared, taken);
          }
        }
        if (taken.first != nullptr) {
          if (!holds(taken.first, taken.second, static_cast<unsigned char>(taken.second)))
            ++corrupt[t];
          net::thread_cache_release(taken.first);
        }
        if (net::this_thread_cached_blocks() >
            block_cache::class_count * block_cache::blocks_per_class)
          ++corrupt[t];
      }
    });
  }
  for (auto& t : pool) t.join();
  for (auto& [p, n] : shared) net::thread_cache_release(p);
  for (int t = 0; t < threads; ++t) CHECK(corrupt[t] == 0);
}
