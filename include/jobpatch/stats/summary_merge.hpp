#pragma once
// `jobpatch merge --summaries`: the summary JSONs of the N shards of one run (apply
// --shard K/N) combined into the summary one run over the whole manifest would have
// written: counts summed exactly, latency percentiles from the shards' histograms merged
// bucket by bucket (exact to the histogram's precision), wall time from the earliest start
// to the latest end.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace jobpatch {

// One summary JSON: `name` (its path) names it in messages.
struct summary_input {
  std::string name;
  std::string text;
};

// Unusable input: not JSON, not an apply summary, a summary without its histogram (written
// before jobpatch carried one), or shards that do not form one run. The message names the
// file and says what to do.
class summary_merge_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct merged_summary {
  std::string json;                  // the merged --summary-json document, '\n'-terminated
  std::vector<std::string> warnings; // worth a line on stderr; the merge stands
  std::uint64_t total = 0;           // merged "total": lines with an outcome
  bool stopped = false;              // some shard was interrupted, aborted or hit its deadline
};

// Merges `inputs` (at least one). Shards are checked to form one run: when the summaries
// record their shard ("shard":"K/N"), every K of 1..N must appear exactly once and all
// must share N; sharded and whole-manifest summaries are not mixed; every shard must have
// read as many manifest lines (unless a run stopped early, which is a warning). Throws
// summary_merge_error.
merged_summary merge_summaries(const std::vector<summary_input>& inputs);

} // namespace jobpatch
