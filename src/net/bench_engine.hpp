#pragma once
// The concurrent part of `jobpatch bench`: an open-loop load generator. Requests are
// taken from a shared counter and scheduled at load_schedule's intended times, whatever
// the server does; a request that cannot start on time starts late and its latency is
// still measured from its intended time. Asio stays in src/net/.

#include "net/bench_options.hpp"
#include <jobpatch/manifest/update_store.hpp>
#include <jobpatch/report/bench_statistics.hpp>

#include <chrono>
#include <functional>
#include <vector>

namespace jobpatch::net {

// Runs the benchmark: the updates of `ops` (non-empty) are sent in a cycle at options.rate for
// options.duration over options.connections connections, with no order per job.
// Everything measured goes to `stats`; `info` receives the scheduled count, wall time and
// how the run ended (settings are left to the caller). Throws std::runtime_error for
// setup failures (bad URL, unresolvable host, unreadable CA file) before anything is sent.
// `on_tick`, when set, is called on the engine's thread about every 250 ms while the
// schedule runs (stats may be read then), for the progress line.
using bench_tick =
    std::function<void(const load_schedule& schedule, std::chrono::steady_clock::time_point now)>;
void run_bench(const bench_options& options, const update_store& ops, bench_statistics& stats,
               bench_run_info& info, bench_tick on_tick = {});

} // namespace jobpatch::net
