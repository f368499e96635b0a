#include "net/block_cache.hpp"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace jobpatch::net {
namespace {

// What precedes every payload. 16 bytes keep the payload at malloc's alignment.
struct block_header {
  std::uint32_t magic; // catches a pointer that did not come from here (asserts are on in
                       // the sanitizer build)
  std::uint32_t size_class;
  std::uint64_t unused;
};
static_assert(sizeof(block_header) == block_cache::header_bytes);
static_assert(alignof(std::max_align_t) <= block_cache::header_bytes);
constexpr std::uint32_t header_magic = 0x6a70626b; // "jpbk"

block_header* header_of(void* payload) {
  auto* header = reinterpret_cast<block_header*>(static_cast<unsigned char*>(payload) -
                                                 block_cache::header_bytes);
  assert(header->magic == header_magic && "block not allocated by block_cache");
  return header;
}

void* payload_of(block_header* header) {
  return reinterpret_cast<unsigned char*>(header) + block_cache::header_bytes;
}

void* new_block(std::size_t payload_bytes, std::uint32_t size_class) {
  if (payload_bytes > std::numeric_limits<std::size_t>::max() - block_cache::header_bytes)
    return nullptr;
  auto* header = static_cast<block_header*>(std::malloc(block_cache::header_bytes + payload_bytes));
  if (header == nullptr) return nullptr;
  *header = {header_magic, size_class, 0};
  return payload_of(header);
}

} // namespace

void* block_cache::allocate(std::size_t bytes) noexcept {
  std::uint32_t c = class_of(bytes);
  if (c == large) return new_block(bytes, large);
  if (free_block* head = heads_[c]) {
    heads_[c] = head->next;
    --counts_[c];
    return head; // its header still says class c
  }
  return new_block(class_bytes(c), c);
}

void block_cache::release(void* block) noexcept {
  if (block == nullptr) return;
  block_header* header = header_of(block);
  std::uint32_t c = header->size_class;
  if (c != large && !closed_ && counts_[c] < blocks_per_class) {
    heads_[c] = new (block) free_block{heads_[c]};
    ++counts_[c];
    return;
  }
  std::free(header);
}

void* block_cache::reallocate(void* block, std::size_t bytes) noexcept {
  if (block == nullptr) return allocate(bytes);
  if (bytes == 0) {
    release(block);
    return nullptr;
  }
  block_header* header = header_of(block);
  std::uint32_t c = header->size_class;
  if (c == large) {
    if (bytes > std::numeric_limits<std::size_t>::max() - header_bytes) return nullptr;
    // realloc keeps the header's bytes, and the block stays large at any size.
    void* moved = std::realloc(header, header_bytes + bytes);
    return moved == nullptr ? nullptr : payload_of(static_cast<block_header*>(moved));
  }
  if (class_of(bytes) == c) return block;
  void* moved = allocate(bytes);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, block, bytes < class_bytes(c) ? bytes : class_bytes(c));
  release(block);
  return moved;
}

void block_cache::close() noexcept {
  closed_ = true;
  for (std::uint32_t c = 0; c < class_count; ++c) {
    while (free_block* head = heads_[c]) {
      heads_[c] = head->next;
      std::free(header_of(head));
    }
    counts_[c] = 0;
  }
}

std::size_t block_cache::cached_blocks() const noexcept {
  std::size_t total = 0;
  for (auto n : counts_) total += n;
  return total;
}

namespace {

// The per-thread state behind thread_cache_*. `slot` is trivially destructible and
// constant-initialised: no guard on the hot path, and it stays valid until the thread's
// storage goes, after every destructor. `closer` is created at the slot's first allocation,
// so its destructor runs when the thread's thread_local destructors do (for the main
// thread: in exit(), before the atexit handlers) and closes the cache.
struct thread_slot {
  block_cache cache;
  thread_cache_state state = thread_cache_state::unused;
};
constinit thread_local thread_slot slot;

struct slot_closer {
  bool armed = false;
  slot_closer() = default;
  slot_closer(const slot_closer&) = delete;
  slot_closer& operator=(const slot_closer&) = delete;
  ~slot_closer() {
    slot.cache.close();
    slot.state = thread_cache_state::closed;
  }
};
thread_local slot_closer closer;

// The calling thread's cache, opened (and its closer armed) on first use. A thread that
// touches it for the first time after its thread_local destructors ran (from a
// pthread_key destructor) would never close it: at most one list per class would leak.
block_cache& opened_cache() noexcept {
  thread_slot& s = slot;
  if (s.state == thread_cache_state::unused) [[unlikely]] {
    closer.armed = true; // the first use constructs it and registers its destructor
    s.state = thread_cache_state::open;
  }
  return s.cache;
}

} // namespace

void* thread_cache_allocate(std::size_t bytes) noexcept { return opened_cache().allocate(bytes); }

void thread_cache_release(void* block) noexcept {
  thread_slot& s = slot;
  if (s.state == thread_cache_state::unused) {
    block_cache(false).release(block); // a thread that never allocated keeps nothing
    return;
  }
  s.cache.release(block); // closed: passed through to free
}

void* thread_cache_reallocate(void* block, std::size_t bytes) noexcept {
  return opened_cache().reallocate(block, bytes);
}

thread_cache_state this_thread_cache_state() noexcept { return slot.state; }

std::size_t this_thread_cached_blocks() noexcept { return slot.cache.cached_blocks(); }

} // namespace jobpatch::net
