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

std::uint32_t update_counter::bump(std::uint64_t job_hash) {
  if (tables_.empty()) tables_.resize(std::size_t{1} << shard_bits);
  std::uint64_t mixed = mix(job_hash);
  std::uint64_t tag = mixed & ~count_mask;
  if (tag == 0) tag = count_mask + 1; // 0 marks an empty cell
  table& t = tables_[tag >> (64 - shard_bits)];
  if ((t.count + 1) * 5 > t.cells.size() * 4) grow(t);
  std::size_t i = home(t, tag);
  while (t.cells[i] != 0) {
    std::uint64_t& cell = t.cells[i];
    if ((cell & ~count_mask) == tag) {
      std::uint64_t n = cell & count_mask;
      if (n + 1 < saturated) {
        ++cell;
        return static_cast<std::uint32_t>(n + 1);
      }
      if (n + 1 == saturated) {
        ++cell;
        many_.emplace(tag, static_cast<std::uint32_t>(saturated));
        return static_cast<std::uint32_t>(saturated);
      }
      return ++many_[tag];
    }
    i = i + 1 == t.cells.size() ? 0 : i + 1;
  }
  t.cells[i] = tag | 1;
  ++t.count;
  ++jobs_;
  return 1;
}

std::size_t update_counter::memory_bytes() const noexcept {
  std::size_t bytes = tables_.capacity() * sizeof(table);
  for (const table& t : tables_) bytes += t.cells.capacity() * sizeof(std::uint64_t);
  // Boost's flat map: 16-byte slots plus one byte of metadata each, in groups of 15.
  return bytes + many_.bucket_count() * (sizeof(std::pair<std::uint64_t, std::uint32_t>) + 1);
}

} // namespace jobpatch
