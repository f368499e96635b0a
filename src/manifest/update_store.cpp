#include <jobpatch/manifest/update_store.hpp>

#include <cstring>
#include <limits>
#include <stdexcept>

namespace jobpatch {

void update_store::add(update_view u) {
  if (u.job_id.size() > std::numeric_limits<std::uint16_t>::max())
    throw std::length_error("update_store: job id too long");
  if (u.body.size() > std::numeric_limits<std::uint32_t>::max())
    throw std::length_error("update_store: body too long");
  if (size_ == blocks_.size() * entries_per_block) {
    // The block list is reserved ahead so that pushing to it cannot throw after the block
    // is made (a lost block would leave size_ pointing past the end). A block made for an
    // add that then threw is used by the next add.
    blocks_.reserve(blocks_.size() + 1);
    blocks_.push_back(std::make_unique_for_overwrite<entry[]>(entries_per_block));
  }
  entry e{};
  e.id = keep(u.job_id);
  e.id_size = static_cast<std::uint16_t>(u.job_id.size());
  e.op = u.op;
  e.body_size = static_cast<std::uint32_t>(u.body.size());
  if (size_ > 0) {
    // Runs of one body (--ids, or a manifest applying one change to many jobs) share it.
    update_view last = (*this)[size_ - 1];
    if (last.body == u.body) e.body = last.body.data();
  }
  if (!e.body) e.body = keep(u.body);
  blocks_[size_ / entries_per_block][size_ % entries_per_block] = e;
  ++size_;
}

const char* update_store::keep(std::string_view text) {
  if (text.empty()) return "";
  if (text.size() > free_size_) {
    bool own_chunk = text.size() > chunk_bytes / 8;
    std::size_t size = own_chunk ? text.size() : chunk_bytes;
    chunks_.reserve(chunks_.size() + 1);
    // Not value-initialised: only the bytes written are ever read (or touched, so the rest
    // of a fresh chunk costs no resident memory).
    chunks_.push_back(std::make_unique_for_overwrite<char[]>(size));
    chunk_total_ += size;
    char* at = chunks_.back().get();
    std::memcpy(at, text.data(), text.size());
    if (!own_chunk) {
      free_ = at + text.size();
      free_size_ = size - text.size();
    }
    return at;
  }
  char* at = free_;
  std::memcpy(at, text.data(), text.size());
  free_ += text.size();
  free_size_ -= text.size();
  return at;
}

std::size_t update_store::bytes_held() const noexcept {
  return chunk_total_ + blocks_.size() * entries_per_block * sizeof(entry) +
         blocks_.capacity() * sizeof(blocks_[0]) + chunks_.capacity() * sizeof(chunks_[0]);
}

} // namespace jobpatch
