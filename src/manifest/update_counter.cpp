#include <jobpatch/manifest/update_counter.hpp>

#include <algorithm>

namespace jobpatch {

namespace {
// The job hashes are FNV-1a: mix them so that the top bits (the table) and the next ones
// (the place in it) are evenly spread.
std::uint64_t mix(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
} // namespace

std::size_t update_counter::home(const table& t, std::uint64_t mixed) noexcept {
  // Multiply-shift of the bits below the table's onto any size, so a table can grow by
  // half rather than double.
  std::uint64_t below = mixed << shard_bits;
  return static_cast<std::size_t>((static_cast<unsigned __int128>(below) * t.cells.size()) >> 64);
}

void update_counter::grow(table& t) {
  std::vector<std::uint64_t> old = std::move(t.cells);
  t.cells.assign(std::max<std::size_t>(16, old.size() + old.size() / 2), 0);
  for (std::uint64_t cell : old) {
    if (cell == 0) continue;
    std::size_t i = home(t, cell & ~count_mask);
    while (t.cells[i] != 0) i = i + 1 == t.cells.size() ? 0 : i + 1;
    t.cells[i] = cell;
  }
}

std::uint64_t update_counter::tag_of(std::uint64_t job_hash) noexcept {
  std::uint64_t tag = mix(job_hash) & ~count_mask;
  return tag == 0 ? count_mask + 1 : tag; // 0 marks an empty cell
}

std::uint32_t update_counter::bump_cell(std::uint64_t& cell, std::uint64_t tag) {
  std::uint64_t n = cell & count_mask;
  if (n + 1 < saturated) {
    ++cell;
    return static_cast<std::uint32_t>(n + 1);
  }
  if (n + 1 == saturated) {
    ++cell;
    many_.insert_or_assign(tag, static_cast<std::uint32_t>(saturated));
    return static_cast<std::uint32_t>(saturated);
  }
  return ++many_[tag];
}

std::uint32_t update_counter::bump(std::uint64_t job_hash) {
  if (tables_.empty()) tables_.resize(std::size_t{1} << shard_bits);
  std::uint64_t tag = tag_of(job_hash);
  table& t = tables_[tag >> (64 - shard_bits)];
  if ((t.count + 1) * 5 > t.cells.size() * 4) grow(t);
  std::size_t i = home(t, tag);
  while (t.cells[i] != 0) {
    if ((t.cells[i] & ~count_mask) == tag) return bump_cell(t.cells[i], tag);
    i = i + 1 == t.cells.size() ? 0 : i + 1;
  }
  t.cells[i] = tag | 1;
  ++t.count;
  ++jobs_;
  return 1;
}

std::uint32_t update_counter::bump_known(std::uint64_t job_hash) {
  if (tables_.empty()) return 0;
  std::uint64_t tag = tag_of(job_hash);
  table& t = tables_[tag >> (64 - shard_bits)];
  if (t.cells.empty()) return 0;
  for (std::size_t i = home(t, tag); t.cells[i] != 0; i = i + 1 == t.cells.size() ? 0 : i + 1)
    if ((t.cells[i] & ~count_mask) == tag) return bump_cell(t.cells[i], tag);
  return 0;
}

void update_counter::restart() {
  for (table& t : tables_)
    for (std::uint64_t& cell : t.cells)
      if (cell != 0) cell &= ~count_mask; // tag | 0: known, not counted yet
  many_.clear();
}

std::size_t update_counter::memory_bytes() const noexcept {
  std::size_t bytes = tables_.capacity() * sizeof(table);
  for (const table& t : tables_) bytes += t.cells.capacity() * sizeof(std::uint64_t);
  // Boost's flat map: 16-byte slots plus one byte of metadata each, in groups of 15.
  return bytes + many_.bucket_count() * (sizeof(std::pair<std::uint64_t, std::uint32_t>) + 1);
}

// --- repeat_finder ----------------------------------------------------------------------

repeat_finder::repeat_finder(std::size_t filter_bytes)
    : blocks_(std::max<std::size_t>(1, (filter_bytes + sizeof(block) - 1) / sizeof(block))) {}

void repeat_finder::add(std::uint64_t job_hash) {
  // One 64-byte block per job (one cache miss), 6 bits in it from the hash's other bits.
  std::uint64_t h = mix(job_hash);
  block& b =
      blocks_[static_cast<std::size_t>((static_cast<unsigned __int128>(h) * blocks_.size()) >> 64)];
  std::uint64_t bits = h * 0x9E3779B97F4A7C15ULL; // fresh bits for the places in the block
  bool seen = true;
  for (int k = 0; k < 6; ++k, bits >>= 9) {
    std::uint64_t& word = b.words[(bits >> 6) & 7];
    std::uint64_t bit = std::uint64_t{1} << (bits & 63);
    seen = seen && (word & bit) != 0;
    word |= bit;
  }
  if (seen) repeated_.bump(job_hash);
}

update_counter repeat_finder::take() {
  std::vector<block>().swap(blocks_);
  repeated_.restart();
  return std::move(repeated_);
}

} // namespace jobpatch
