#pragma once
// Configuration of jobpatch-mock, built by its command line (or by a test) and passed in.

#include "mock/capacity_model.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace jobpatch::mock {

// Fault probabilities, each in [0,1]. One uniform draw per PATCH picks at most one
// fault: the ranges are laid end to end in the order 429, 503, 500, drop, truncate, so
// each probability is exact while their sum stays <= 1 (later ones shrink beyond that).
struct fault_rates {
  double fail_429 = 0;
  double fail_503 = 0;
  double fail_500 = 0;
  double drop = 0;     // close without answering; applied or not, half and half
  double truncate = 0; // applied, then headers and part of the body, then close
  bool reads = false;  // GETs of a job draw faults too (--fault-reads), not only PATCHes

  bool any() const noexcept { return fail_429 + fail_503 + fail_500 + drop + truncate > 0; }
};

struct mock_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0; // 0: a free port
  std::string port_file;  // receives the port once listening
  bool tls = true;        // false: plain HTTP (--plain)
  std::string cert_out;   // receives the generated certificate (PEM)
  std::string client_ca;  // non-empty: clients must present a certificate signed by it
  std::string api_key = "mock-api-key";
  std::uint64_t jobs = 0;           // pre-creates job-0000001 ... job-N
  std::vector<std::string> job_ids; // further jobs to pre-create, any id
  fault_rates faults;
  unsigned retry_after_seconds = 1;     // Retry-After of an injected 503
  std::chrono::milliseconds latency{0}; // added before every API answer
  capacity_options capacity;            // --capacity: the job API served K at once
  std::chrono::seconds token_ttl{3600};
  std::uint64_t seed = 0; // fault PRNG seed
  std::string journal;    // NDJSON record per applied PATCH
  unsigned threads = 1;
  std::chrono::seconds idle_timeout{60}; // per connection, also bounds a slow request
  bool handle_signals = true;            // stop cleanly on SIGINT/SIGTERM
};

} // namespace jobpatch::mock
