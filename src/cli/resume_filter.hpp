#pragma once
// apply --resume: marks each update of the manifest with what earlier runs recorded of it
// (applied, changed since, failed for good, withheld), as line_source hands it out. Lives
// where the apply pipeline is assembled: the manifest side knows nothing of results.

#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/results/resume_state.hpp>

#include <cstdint>
#include <unordered_set>

namespace jobpatch {

class resume_filter final : public update_filter {
public:
  // `earlier` must outlive the filter. `retry_failed`: send lines that failed for good
  // before, too (--retry-failed).
  resume_filter(const resume_state& earlier, bool retry_failed) noexcept
      : earlier_(earlier), retry_failed_(retry_failed) {}

  void mark(source_item& item) override;

private:
  const resume_state& earlier_;
  bool retry_failed_;
  // Jobs (by job_hash_of) of which this run sends a line; their later lines are sent again
  // even when recorded ok, so the job ends in manifest order.
  std::unordered_set<std::uint64_t> resent_jobs_;
};

} // namespace jobpatch
