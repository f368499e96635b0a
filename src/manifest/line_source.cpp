#include <jobpatch/manifest/line_source.hpp>

#include <algorithm>
#include <utility>

namespace jobpatch {

line_source::line_source(manifest_reader reader, options o)
    : reader_(std::move(reader)), options_(std::move(o)) {}

std::uint32_t line_source::shard_of(std::string_view job_id, std::uint32_t shard_count) noexcept {
  if (shard_count <= 1) return 0;
  return static_cast<std::uint32_t>(fingerprint_of(0, job_id, op_kind::configs, {}) % shard_count);
}

bool line_source::next(source_item& item) {
  while (reader_.next(line_)) {
    ++lines_read_;
    if (line_.oversized) {
      item.valid = false;
      item.error.line = line_.number;
      item.error.job_id.clear();
      item.error.op.reset();
      item.error.message = "line is " + std::to_string(line_.oversized) +
                           " bytes, over the limit of " + std::to_string(reader_.max_line_bytes());
      if (options_.on_invalid) options_.on_invalid(item.error);
      // The job is unknown, so every shard reports it: a bad line is never lost.
      return true;
    }
    item.valid = validator_.validate(line_.text, line_.readable, line_.number, item.op);
    const std::string& job_id = item.valid ? item.op.job_id : validator_.error().job_id;
    if (options_.shard_count > 1 && !job_id.empty() &&
        shard_of(job_id, options_.shard_count) != options_.shard_index)
      continue;
    // `item` may be reused: reset what this line may not set (capacities are kept).
    item.already_applied = item.changed = item.withheld_before = false;
    item.failed_before = 0;
    item.raw_line.clear();
    item.op.seq = 0;
    if (!item.valid) {
      item.error = validator_.error();
      if (options_.on_invalid) options_.on_invalid(item.error);
      return true;
    }
    item.op.only_update = false;
    if (options_.number_updates || options_.repeated_jobs) {
      std::uint64_t job = job_hash_of(item.op.job_id);
      std::uint32_t seq = 0;
      if (options_.repeated_jobs) {
        seq = options_.repeated_jobs->bump_known(job);
        item.op.only_update = seq == 0; // the first pass saw this job once
        seq = std::max<std::uint32_t>(1, seq);
      } else {
        seq = job_updates_.bump(job);
      }
      if (options_.number_updates) {
        // The key a resume looks for: this update's place among its job's updates, not the
        // line number, so lines of other jobs may come and go.
        item.op.seq = seq;
        item.op.fingerprint = fingerprint_of(seq, item.op.job_id, item.op.op, item.op.body);
        if (options_.filter) options_.filter->mark(item);
      }
    }
    if (options_.keep_raw_lines) item.raw_line.assign(line_.text);
    return true;
  }
  return false;
}

} // namespace jobpatch
