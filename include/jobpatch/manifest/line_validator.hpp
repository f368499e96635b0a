#pragma once
// Turns one manifest line into a validated operation, or a precise error.

#include <jobpatch/manifest/body_validator.hpp>
#include <jobpatch/manifest/operation.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch {

// Why a manifest line was rejected, with whatever was known about it.
struct invalid_line {
  std::uint64_t line = 0;
  std::string job_id;        // empty when not known
  std::optional<op_kind> op; // when known
  std::string message;       // e.g. `configs.taskTimeout must be an integer, got string "abc"`
  // The whole input does not look like NDJSON (compressed, binary): `message` ends saying
  // so, and the lines after this one are no use to show (line_source, on the first line).
  bool not_ndjson = false;
};

// Validates manifest lines {"jobId": string, "op": string, "body": value}: exactly these
// keys, each once; jobId non-empty, at most max_job_id_bytes, no control characters;
// op one of the four; body valid for op (see body_validator). Each line is parsed on
// its own, so a bad line never affects its neighbours.
// Not thread-safe: one instance per thread (it reuses its parsers).
class line_validator {
public:
  static constexpr std::size_t max_job_id_bytes = 1024;

  line_validator();
  ~line_validator();
  line_validator(line_validator&&) noexcept;
  line_validator& operator=(line_validator&&) noexcept;

  // Validates `line` (no line end). `readable` is how many bytes from line.data() may be
  // read; at least line.size() + 64 avoids a copy. On success fills `out` (reusing its
  // string capacity) and returns true; otherwise error() describes the problem.
  bool validate(std::string_view line, std::size_t readable, std::uint64_t line_number,
                operation& out);

  const invalid_line& error() const noexcept { return error_; }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  invalid_line error_;
};

// What a manifest line's op, and --op, say of a name that is no op: `unknown op "config"
// (did you mean "configs"?)`, or the four names when none is near.
std::string unknown_op_message(std::string_view name);

} // namespace jobpatch
