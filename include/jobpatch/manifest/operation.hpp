#pragma once
// One validated manifest line: the update jobpatch sends as a single PATCH.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch {

// The four PATCH endpoints of the ByteNite Customer API, named as in the manifest.
enum class op_kind : std::uint8_t { datasource, params, jobname, configs };

inline constexpr std::size_t op_kind_count = 4;

// The manifest / URL name of an op ("datasource", "params", "jobname", "configs").
std::string_view to_string(op_kind op) noexcept;

// Parses a manifest op name; exact, case-sensitive match only.
std::optional<op_kind> parse_op_kind(std::string_view name) noexcept;

// A validated update. `body` is the exact JSON text of the manifest's "body" value,
// sent unchanged as the request body.
struct operation {
  std::uint64_t line = 0; // 1-based line number in the manifest
  std::string job_id;     // unescaped job id (percent-encoded only when sent)
  op_kind op = op_kind::configs;
  std::string body; // exact JSON text
  // Which update of its job this is in the manifest (1 = the job's first valid line),
  // set by line_source; 0 = not numbered.
  std::uint32_t seq = 0;
  // True when a first pass over the manifest proved this the job's only update (see
  // line_source::options::repeated_jobs): nothing about the job need be kept for later.
  bool only_update = false;
  // The resume key: fingerprint_of(seq, job_id, op, body), set by line_source when it
  // numbers the update (so lines of other jobs can come and go without changing it);
  // 0 = not numbered.
  std::uint64_t fingerprint = 0;
};

// What a request needs of an update, without owning it: the job, the endpoint and the
// body. Built from an operation (implicitly) or from a compact store (update_store), so
// that bench need not keep an operation, with its strings, per manifest line.
struct update_view {
  std::string_view job_id;
  op_kind op = op_kind::configs;
  std::string_view body;

  update_view() = default;
  update_view(std::string_view id, op_kind kind, std::string_view text) noexcept
      : job_id(id), op(kind), body(text) {}
  // Implicit: wherever a view is taken, an operation may be passed.
  update_view(const operation& o) noexcept : job_id(o.job_id), op(o.op), body(o.body) {}
};

// Stable 64-bit fingerprint of an update's position and content. Same inputs give the
// same value on every platform and build (FNV-1a over length-prefixed fields). `position`
// is the update's seq within its job (results files before seq used the line number).
std::uint64_t fingerprint_of(std::uint64_t position, std::string_view job_id, op_kind op,
                             std::string_view body) noexcept;

// A job's key wherever updates are grouped by job (counting, resume): a fingerprint of
// its id alone.
std::uint64_t job_hash_of(std::string_view job_id) noexcept;

} // namespace jobpatch
