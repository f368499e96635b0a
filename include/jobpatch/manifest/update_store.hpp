#pragma once
// The updates `jobpatch bench` cycles through, held compactly: job ids and bodies in one
// arena of large chunks, and a fixed 24-byte index entry per update (pointers, sizes and
// the op kind). No per-update string or heap object, so 100 k updates of a typical line
// cost ~90 bytes each (~35 when consecutive lines share a body, as --ids runs do) instead
// of ~260 as operations plus their request paths. Nothing moves once added: the views
// stay valid for the store's lifetime, and reading one is two loads, no allocation.

#include <jobpatch/manifest/operation.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace jobpatch {

class update_store {
public:
  // Bytes of text per arena chunk; a text longer than chunk_bytes / 8 gets a chunk of its
  // own, so a long body never leaves most of a chunk unused.
  static constexpr std::size_t chunk_bytes = std::size_t{1} << 20;
  static constexpr std::size_t entries_per_block = std::size_t{1} << 12;

  update_store() = default;
  update_store(update_store&&) noexcept = default;
  update_store& operator=(update_store&&) noexcept = default;
  update_store(const update_store&) = delete;
  update_store& operator=(const update_store&) = delete;

  // Copies the update in. A body equal to the previous update's is stored once. Throws
  // std::length_error for a job id over 64 KiB or a body over 4 GiB (the validator's
  // limits are far below), std::bad_alloc when memory runs out.
  void add(update_view u);

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // The update at `index` (< size()); valid as long as the store.
  update_view operator[](std::size_t index) const noexcept {
    const entry& e = blocks_[index / entries_per_block][index % entries_per_block];
    return {std::string_view(e.id, e.id_size), e.op, std::string_view(e.body, e.body_size)};
  }

  // Heap bytes held (chunks and index blocks as allocated, not counting the allocator's
  // own overhead): what the store costs.
  std::size_t bytes_held() const noexcept;

private:
  struct entry {
    const char* id;
    const char* body;
    std::uint32_t body_size;
    std::uint16_t id_size;
    op_kind op;
  };
  static_assert(sizeof(entry) <= 24, "one index entry per update stays small");

  // Copies `text` into the arena and returns where it now lives.
  const char* keep(std::string_view text);

  std::vector<std::unique_ptr<entry[]>> blocks_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::size_t chunk_total_ = 0; // bytes of all chunks
  char* free_ = nullptr;        // the unused tail of the current shared chunk
  std::size_t free_size_ = 0;
  std::size_t size_ = 0;
};

} // namespace jobpatch
