#pragma once
// What an earlier run's results file says was already applied, for --resume.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobpatch {

class resume_state {
public:
  // How a manifest line stands against the earlier results.
  enum class verdict {
    not_recorded, // no ok record: send it
    applied,      // recorded ok with the same content: skip it
    changed,      // recorded ok, but the line's content differs now: send it, and say so
  };

  // Reads `path` (a missing file is an empty state). A torn last record (no final newline)
  // is cut off the file so that appended records start on a line of their own; lines
  // that are not jobpatch result records are ignored. Each such repair or oddity is
  // described in `notes`, one message per entry. Throws std::system_error when the file
  // exists but cannot be read or repaired.
  static resume_state load(const std::string& path, std::vector<std::string>& notes);

  verdict check(std::uint64_t line, std::uint64_t fingerprint) const noexcept;

  // True when some line of `job_id` is recorded ok (by a hash of the id: a collision only
  // makes a resume re-send more than needed, never less).
  bool has_ok_records_of(std::string_view job_id) const noexcept;

  // The hash used for job ids here.
  static std::uint64_t job_hash(std::string_view job_id) noexcept;

  std::size_t ok_records() const noexcept { return ok_.size(); }

private:
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ok_; // (line, fingerprint), sorted
  std::vector<std::uint64_t> ok_jobs_;                      // job_hash of ok records, sorted
};

} // namespace jobpatch
