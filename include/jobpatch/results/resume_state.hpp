#pragma once
// What an earlier run's results file says about each update, for --resume.
//
// An update is known by its key: its job, its seq (which update of that job it is in the
// manifest) and a fingerprint of (seq, job id, op, body). Lines of other jobs can be
// inserted or removed without changing a key; reordering a job's own updates, or editing
// one, does change it. Records written before seq existed are keyed by line number and
// still honoured.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobpatch {

class resume_state {
public:
  // How a manifest update stands against the earlier results.
  enum class verdict {
    not_recorded,    // no ok record: send it
    applied,         // recorded ok with the same content: skip it
    changed,         // recorded ok, but the update at this place differs now: send it, say so
    failed_before,   // its last record failed for good (HTTP 400/403/404): see `status`
    withheld_before, // its last record is "withheld" (not sent behind a failed update)
  };
  struct lookup {
    verdict result = verdict::not_recorded;
    int status = 0; // failed_before: the HTTP status it failed with
  };

  // The update looked up: job_hash_of(job id), seq and fingerprint (see operation), and the
  // line number with the line-numbered fingerprint for records from before seq.
  struct key {
    std::uint64_t job = 0;
    std::uint32_t seq = 0;
    std::uint64_t fingerprint = 0;
    std::uint64_t line = 0;
    std::uint64_t line_fingerprint = 0;
  };

  // Reads `path` (a missing file is an empty state). A torn last record (no final newline)
  // is cut off the file so that appended records start on a line of their own; lines
  // that are not jobpatch result records are ignored. Each such repair or oddity is
  // described in `notes`, one message per entry. Throws std::system_error when the file
  // exists but cannot be read or repaired.
  static resume_state load(const std::string& path, std::vector<std::string>& notes);

  lookup check(const key& k) const noexcept;

  // True when some line of `job_id` is recorded ok (by a hash of the id: a collision only
  // makes a resume re-send more than needed, never less).
  bool has_ok_records_of(std::string_view job_id) const noexcept;

  // Distinct updates recorded ok (a line recorded ok twice counts once).
  std::size_t ok_records() const noexcept { return ok_.size() + legacy_ok_.size(); }
  // Distinct updates whose last record is a permanent failure (HTTP 400/403/404).
  std::size_t permanent_failures() const noexcept { return permanent_failures_; }

  // A failure that a resumed run does not send again unless told to (--retry-failed):
  // the server refused the update itself, so sending it again gets the same answer.
  static bool is_permanent_failure(int status) noexcept {
    return status == 400 || status == 403 || status == 404;
  }

  struct entry { // public for the loader; 24 bytes, ordered by (job, seq, fingerprint)
    std::uint64_t job = 0, fingerprint = 0;
    std::uint32_t seq = 0;
    std::int32_t status = 0; // failed_: HTTP status, 0 = withheld
  };

private:
  // Sorts what load() read into lookup tables; keeps the last failed record of each update.
  void index(std::vector<entry>& failed);
  std::vector<entry> ok_;                                          // sorted, unique
  std::vector<entry> failed_;                                      // sorted, one per key
  std::vector<std::pair<std::uint64_t, std::uint64_t>> legacy_ok_; // (line, fp), sorted
  std::vector<std::uint64_t> ok_jobs_; // job_hash of ok records, sorted, unique
  std::size_t permanent_failures_ = 0;
};

// Cuts a partial last line (one without its line end: a crash mid-write) off the file at
// `path`; returns the bytes cut (0 also when there is no such file). Throws
// std::system_error when the file cannot be read or cut.
std::size_t cut_torn_tail(const std::string& path);

} // namespace jobpatch
