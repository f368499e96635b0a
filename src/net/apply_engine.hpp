#pragma once
// The concurrent part of `jobpatch apply`: connection pool, scheduling, retries, auth.
// Only this header's one function is visible to the rest of the program; Asio stays in
// src/net/.

#include "net/apply_options.hpp"
#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/results/plan_record.hpp>
#include <jobpatch/results/result_sink.hpp>
#include <jobpatch/stats/run_statistics.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace jobpatch::net {

// Applies every update `source` yields, recording exactly one outcome per line in `sink`
// and `stats`. Throws std::runtime_error for setup failures (bad URL, unresolvable host,
// unreadable CA file) before anything is sent.
// `on_tick`, when given, is called on the engine's thread every `tick_interval` while
// the run goes on (stats may be read then) and once more when it has finished.
struct engine_tick {
  std::uint64_t retrying = 0; // updates waiting to be tried again
};
using tick_callback = std::function<void(const engine_tick&)>;

// With options.plan, every line's plan goes to `plan` (which must be given) and nothing is
// written to a job. With options.undo_out, `undo_fields` holds, per job id, the fields an
// earlier run's undo file restores already (--resume): their old values are not recorded
// again.
struct read_first_state {
  plan_sink* plan = nullptr;
  std::vector<std::pair<std::string, field_mask>> undo_fields;
};

run_status run_engine(const apply_options& options, line_source& source, result_sink& sink,
                      run_statistics& stats, const tick_callback& on_tick = {},
                      std::chrono::milliseconds tick_interval = std::chrono::milliseconds(250),
                      const read_first_state& read_first = {});

} // namespace jobpatch::net
