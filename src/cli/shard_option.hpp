#pragma once
// --shard: the part of a manifest one run applies, so that N processes (or the N pods of a
// Kubernetes Indexed Job) share one manifest and no job is touched by two of them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch::cli {

// What --shard (and JOB_COMPLETION_INDEX) resolve to.
struct shard_selection {
  std::uint32_t index = 0; // this run takes the jobs whose id hashes to index modulo count
  std::uint32_t count = 1; // 1: the whole manifest
  std::string note;        // non-empty: worth one line on stderr, the run goes on
};

// `option` is the --shard value, empty when not given: "K/N" (1 <= K <= N, shard K of N),
// or "N" alone, whose K is JOB_COMPLETION_INDEX + 1 (Kubernetes numbers an Indexed Job's
// pods 0..N-1). `completion_index` is that variable's value when it is set. An explicit K
// wins over the variable. Throws cli_error (exit 2) when refused.
shard_selection resolve_shard(std::string_view option,
                              std::optional<std::string_view> completion_index);

// resolve_shard with JOB_COMPLETION_INDEX read from the environment.
shard_selection resolve_shard_from_environment(std::string_view option);

} // namespace jobpatch::cli
