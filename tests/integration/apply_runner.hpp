#pragma once
// Test support: runs `jobpatch apply` and `jobpatch-make-manifest` against a mock_process.

#include "mock_process.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace jobpatch::test {

// Runs `jobpatch apply MANIFEST --base-url https://localhost:PORT --cacert CERT` plus
// `args`, with `key` in BYTENITE_API_KEY; returns the exit code (-1 on timeout). Its
// stderr goes to mock.path("apply.err").
int run_apply(const mock_process& mock, const std::string& manifest, std::vector<std::string> args,
              const std::string& key = mock_test_key,
              std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Writes a manifest with jobpatch-make-manifest into the mock's directory; returns its path.
std::string make_manifest(const mock_process& mock, const std::string& name, unsigned lines,
                          unsigned jobs, unsigned seed = 1);

} // namespace jobpatch::test
