#pragma once
// Test support: runs `jobpatch apply` and `jobpatch-make-manifest` against a mock_process.

#include "mock_process.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace jobpatch::test {

// `jobpatch COMMAND INPUT --base-url https://localhost:PORT --cacert CERT` plus `args`:
// the command line of a run against a server on `port` trusted through `cert`.
std::vector<std::string> jobpatch_argv(unsigned port, const std::string& cert,
                                       const std::string& command, const std::string& input,
                                       std::vector<std::string> args);
// The same against `mock`.
std::vector<std::string> jobpatch_argv(const mock_process& mock, const std::string& command,
                                       const std::string& input, std::vector<std::string> args);

// Runs `jobpatch apply MANIFEST --base-url https://localhost:PORT --cacert CERT` plus
// `args`, with `key` in BYTENITE_API_KEY; returns the exit code (-1 on timeout). Its
// stderr goes to mock.path("apply.err").
int run_apply(const mock_process& mock, const std::string& manifest, std::vector<std::string> args,
              const std::string& key = mock_test_key,
              std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Writes a manifest with jobpatch-make-manifest into the mock's directory; returns its path.
std::string make_manifest(const mock_process& mock, const std::string& name, unsigned lines,
                          unsigned jobs, unsigned seed = 1);

// Empty when the mock's journal applied every job's updates of the manifest in manifest
// order; a retried update may repeat (its answer was lost), but none may jump ahead or be
// missing. Otherwise the first problem found.
std::string check_applied_in_order(const std::string& manifest, const std::string& journal);

} // namespace jobpatch::test
