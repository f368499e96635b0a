#pragma once
// Test support: jobpatch-mock as a child process on a free loopback port, plus typed
// helpers to talk to it through tls_test_client.

#include "child_process.hpp"
#include "tls_test_client.hpp"

#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <vector>

namespace jobpatch::test {

inline const std::string mock_test_key = "mock-test-key-8f2a";

class mock_process {
public:
  // Starts jobpatch-mock with --port 0, --api-key mock_test_key, --jobs `jobs`, a journal
  // and `args`; waits until it listens. Throws std::runtime_error if it does not start.
  explicit mock_process(std::vector<std::string> args = {}, unsigned jobs = 20, bool tls = true);
  ~mock_process();

  unsigned short port() const { return port_; }
  const std::string& cert() const { return cert_; } // empty with --plain
  const std::string& journal() const { return journal_; }
  std::string path(const std::string& name) const { return dir_.path(name); }
  child_process& process() { return *process_; }

  // A new client of this mock (TLS with its certificate, or plain).
  std::unique_ptr<tls_test_client> client() const;
  // A fresh access token for mock_test_key; throws if the exchange fails.
  std::string token() const;
  // GET /v1/customer/jobs/{id} (id percent-encoded here); the parsed "job" object, or
  // null when the answer is not a 200.
  boost::json::value job(const std::string& id, const std::string& token) const;
  // GET /mock/stats, parsed.
  boost::json::value stats() const;
  // The journal's records, parsed.
  std::vector<boost::json::value> journal_records() const;

  // SIGTERM, then waits; returns the exit code.
  int stop(int signal_number = 15);

private:
  temp_dir dir_;
  std::string cert_, journal_;
  unsigned short port_ = 0;
  std::unique_ptr<child_process> process_;
};

// Percent-encodes `id` as one path segment (unreserved characters kept).
std::string encode_segment(const std::string& id);

} // namespace jobpatch::test
