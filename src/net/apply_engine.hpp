#pragma once
// The concurrent part of `jobpatch apply`: connection pool, scheduling, retries, auth.
// Only this header's one function is visible to the rest of the program; Asio stays in
// src/net/.

#include <jobpatch/apply_options.hpp>
#include <jobpatch/line_source.hpp>
#include <jobpatch/result_sink.hpp>
#include <jobpatch/run_statistics.hpp>

#include <string>

namespace jobpatch::net {

// Applies every update `source` yields, recording exactly one outcome per line in `sink`
// and `stats`. Throws std::runtime_error for setup failures (bad URL, unresolvable host,
// unreadable CA file) before anything is sent.
run_status run_engine(const apply_options& options, line_source& source, result_sink& sink,
                         run_statistics& stats);

} // namespace jobpatch::net
