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
#include <optional>
#include <string>

namespace jobpatch::net {

struct engine_tick {
  std::uint64_t retrying = 0;  // updates waiting to be tried again
  std::uint64_t in_flight = 0; // requests sent and not yet answered
  unsigned limit = 0;          // requests allowed in flight (--connections, fixed or auto)
  bool paused = false;         // --control pause
};
using tick_callback = std::function<void(const engine_tick&)>;

// What the caller hears while the engine runs, on the engine's thread.
struct engine_hooks {
  // Every `tick_interval` while the run goes on (stats may be read then), and once more
  // when it has finished.
  tick_callback on_tick;
  std::chrono::milliseconds tick_interval{250};
  // A second signal: the run leaves at once. Called with the status so far and the exit
  // code, to hand the run's last words (summary, metrics) to the writer thread; the
  // engine then waits until everything handed over is written and exits the process.
  std::function<void(const run_status&, int exit_code)> on_leave_now;
  // The lines the run will settle, when the caller knows (--control's status says it;
  // else the lines read so far).
  std::optional<std::uint64_t> lines_total;
};

// With options.plan, every line's plan goes to `plan` (which must be given) and nothing is
// written to a job. With options.undo_out, `undo_fields` holds, per job id, the fields an
// earlier run's undo file restores already (--resume): their old values are not recorded
// again.
struct read_first_state {
  plan_sink* plan = nullptr;
  std::vector<std::pair<std::string, field_mask>> undo_fields;
};

// Applies every update `source` yields, recording exactly one outcome per line in `sink`
// and `stats`. Throws unresolvable_host (net_errors.hpp) when the host does not resolve,
// before anything is sent, and std::runtime_error for other setup failures.
run_status run_engine(const apply_options& options, line_source& source, result_sink& sink,
                      run_statistics& stats, const engine_hooks& hooks = {},
                      const read_first_state& read_first = {});

} // namespace jobpatch::net
