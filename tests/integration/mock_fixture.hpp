#pragma once
// Test support: a jobpatch-mock child process on 127.0.0.1 (a free port, HTTPS with
// its own certificate), and a way to run `jobpatch apply` against it.

#include "child_process.hpp"

#include <memory>
#include <string>
#include <vector>

namespace jobpatch::test {

inline const std::string test_api_key = "test-key-5b1e9c0d7a";

class mock_fixture {
public:
  // `args` are extra jobpatch-mock options, e.g. {"--fail-500", "0.1"}.
  explicit mock_fixture(std::vector<std::string> args = {}, unsigned jobs = 2000);
  ~mock_fixture();

  std::string base_url() const { return "https://localhost:" + std::to_string(port_); }
  const std::string& cert() const { return cert_; }
  const std::string& journal() const { return journal_; }
  std::string path(const std::string& name) const { return dir_.path(name); }
  unsigned port() const { return port_; }
  // Stops the mock with SIGTERM; returns its exit code.
  int stop();

  // Runs `jobpatch apply MANIFEST --base-url ... --cacert ...` plus `args`, with the
  // test key in BYTENITE_API_KEY (or `key`); returns the exit code. stderr goes to
  // path("apply.err").
  int apply(const std::string& manifest, std::vector<std::string> args,
            const std::string& key = test_api_key,
            std::chrono::milliseconds timeout = std::chrono::seconds(120));

private:
  temp_dir dir_;
  std::string cert_, journal_;
  unsigned port_ = 0;
  std::unique_ptr<child_process> process_;
};

// Writes a manifest with jobpatch-make-manifest; returns its path.
std::string make_manifest(const mock_fixture& mock, const std::string& name, unsigned lines,
                          unsigned jobs, unsigned seed = 1);

} // namespace jobpatch::test
