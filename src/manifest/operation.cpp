#include <jobpatch/manifest/operation.hpp>

#include <array>

namespace jobpatch {
namespace {
constexpr std::array<std::string_view, op_kind_count> op_names = {"datasource", "params", "jobname",
                                                                  "configs"};

constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

std::uint64_t mix_bytes(std::uint64_t h, std::string_view bytes) noexcept {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= fnv_prime;
  }
  return h;
}

std::uint64_t mix_u64(std::uint64_t h, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= fnv_prime;
  }
  return h;
}
} // namespace

std::string_view to_string(op_kind op) noexcept { return op_names[static_cast<std::size_t>(op)]; }

std::optional<op_kind> parse_op_kind(std::string_view name) noexcept {
  for (std::size_t i = 0; i < op_names.size(); ++i)
    if (op_names[i] == name) return static_cast<op_kind>(i);
  return std::nullopt;
}

std::uint64_t fingerprint_of(std::uint64_t position, std::string_view job_id, op_kind op,
                             std::string_view body) noexcept {
  // Length prefixes keep ("ab","c") and ("a","bc") apart.
  std::uint64_t h = mix_u64(fnv_offset, position);
  h = mix_u64(h, job_id.size());
  h = mix_bytes(h, job_id);
  h = mix_u64(h, static_cast<std::uint64_t>(op));
  h = mix_u64(h, body.size());
  return mix_bytes(h, body);
}

std::uint64_t job_hash_of(std::string_view job_id) noexcept {
  return fingerprint_of(0, job_id, op_kind::jobname, {});
}

} // namespace jobpatch
