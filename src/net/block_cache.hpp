#pragma once
// A recycling allocator for small blocks: size classes up to 2 KiB, a bounded free list per
// class, everything else straight to malloc/free. OpenSSL 3.0 allocates and frees a few
// small blocks inside every SSL_read/SSL_write (tls_memory.hpp installs this for it);
// served from these lists they cost no heap call in steady state.
//
// Every block starts with a 16-byte header (its class, or "large"), so a block can be freed
// or resized by any thread, through any cache or none, and the payload keeps malloc's
// 16-byte alignment. No OpenSSL here: unit-tested on its own.

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace jobpatch::net {

// One thread's free lists. Not thread-safe: each thread has its own (see the functions
// below); the blocks themselves are plain malloc memory and may move between caches.
// Trivially destructible, so that it stays usable while a thread or the process ends.
class block_cache {
public:
  static constexpr std::size_t header_bytes = 16;
  static constexpr std::size_t class_count = 8; // payloads of 16, 32, ..., 2048 bytes
  static constexpr std::size_t largest_class_bytes = 2048;
  static constexpr std::size_t blocks_per_class = 32; // at most ~130 KB cached per thread
  static constexpr std::uint32_t large = class_count; // the class of a block past 2 KiB

  // The class that serves `bytes`, or `large`.
  static constexpr std::uint32_t class_of(std::size_t bytes) {
    if (bytes <= 16) return 0;
    if (bytes > largest_class_bytes) return large;
    return static_cast<std::uint32_t>(std::bit_width(bytes - 1)) - 4; // 17..32 -> 1
  }
  // Payload bytes of a block of class `c` (< class_count).
  static constexpr std::size_t class_bytes(std::uint32_t c) { return std::size_t{16} << c; }

  // A closed cache (open = false) keeps nothing: it only puts headers on blocks.
  constexpr explicit block_cache(bool open = true) : closed_(!open) {}

  // A block of at least `bytes` (0 gives a smallest block), 16-byte aligned; nullptr when
  // malloc fails.
  void* allocate(std::size_t bytes) noexcept;
  // Frees a block of any cache (or none); nullptr is fine. Kept when its class's list has
  // room and the cache is open, else given back to free.
  void release(void* block) noexcept;
  // realloc's contract: nullptr allocates, 0 bytes frees and gives nullptr; a block stays
  // in place while its class still fits, else it moves (contents copied); a large block
  // stays large (resized by realloc). nullptr when out of memory, the block then intact.
  void* reallocate(void* block, std::size_t bytes) noexcept;

  // Gives every cached block back to free and keeps no more: from then on this cache only
  // passes calls through to malloc/free (a thread that is ending).
  void close() noexcept;
  bool closed() const noexcept { return closed_; }

  // Blocks of class `c` waiting for reuse, for tests and diagnostics.
  std::size_t cached_blocks(std::uint32_t c) const noexcept { return counts_[c]; }
  std::size_t cached_blocks() const noexcept;

private:
  struct free_block {
    free_block* next;
  };
  std::array<free_block*, class_count> heads_{};
  std::array<std::uint16_t, class_count> counts_{};
  bool closed_ = false;
};

// The calling thread's block_cache. OpenSSL's allocation hooks are plain function pointers
// without a context, so this one piece of per-thread state is unavoidable. A thread's cache
// opens at its first allocation and closes when the thread ends (its thread_local
// destructors, which also run at exit() before atexit handlers such as OpenSSL's cleanup);
// frees that come later, or on a thread that never allocated, go straight to free.
void* thread_cache_allocate(std::size_t bytes) noexcept;
void thread_cache_release(void* block) noexcept;
void* thread_cache_reallocate(void* block, std::size_t bytes) noexcept;

// What the calling thread's cache holds and whether it is still open, for tests.
enum class thread_cache_state { unused, open, closed };
thread_cache_state this_thread_cache_state() noexcept;
std::size_t this_thread_cached_blocks() noexcept;

} // namespace jobpatch::net
