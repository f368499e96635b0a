#include "cli/resume_filter.hpp"

namespace jobpatch {

void resume_filter::mark(source_item& item) {
  const operation& op = item.op;
  std::uint64_t job = job_hash_of(op.job_id);
  // Results files from before seq keyed a line by its number.
  auto found = earlier_.check(
      {job, op.seq, op.fingerprint, op.line, fingerprint_of(op.line, op.job_id, op.op, op.body)});
  bool job_resent = resent_jobs_.contains(job);
  item.already_applied = found.result == resume_state::verdict::applied && !job_resent;
  item.changed = found.result == resume_state::verdict::changed;
  item.failed_before =
      found.result == resume_state::verdict::failed_before && !retry_failed_ ? found.status : 0;
  item.withheld_before = found.result == resume_state::verdict::withheld_before;
  // Only jobs with lines recorded ok can have a later line wrongly skipped.
  if (!item.already_applied && !job_resent && earlier_.has_ok_records_of(op.job_id))
    resent_jobs_.insert(job);
}

} // namespace jobpatch
