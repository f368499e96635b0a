#pragma once
// Test support: a fault-injecting TCP proxy on loopback (netem is not available here).
// It sits between a client and a server and, at random but from a seed: delays each chunk
// (latency + jitter), forwards it in tiny segments, caps the bandwidth, stalls a
// connection for seconds, and resets connections (RST) in the middle of a request or of
// a response. It works on bytes, so TLS passes through end to end untouched.

#include <chrono>
#include <cstdint>
#include <memory>

namespace jobpatch::test {

struct fault_proxy_options {
  unsigned short upstream_port = 0; // the real server, on 127.0.0.1
  std::uint64_t seed = 1;
  std::chrono::milliseconds latency{2};       // added to every chunk forwarded
  std::chrono::milliseconds jitter{4};        // plus uniform [0, jitter]
  std::size_t max_segment = 64;               // chunks go out in writes of 1..max_segment bytes
  std::uint64_t bytes_per_second = 256 << 10; // per connection and direction; 0: unlimited
  double reset_probability = 0.01;            // per chunk: forward part of it, then RST both ways
  double stall_probability = 0.002;           // per chunk: hold it back for `stall`
  std::chrono::milliseconds stall{4000};
  // A request stalled until after its client gave up (timed out, closed) is dropped, as
  // when the stalled packets are lost; false delivers it late to the server anyway,
  // which can apply it after the retried and later updates of the same job.
  bool drop_stalled_request_of_closed_client = true;
};

// What the proxy did, so a test can check that the faults really happened.
struct fault_proxy_stats {
  std::uint64_t connections = 0;
  std::uint64_t resets_mid_request = 0;  // client -> server direction
  std::uint64_t resets_mid_response = 0; // server -> client direction
  std::uint64_t stalls = 0;
  std::uint64_t stalled_requests_dropped = 0; // the client had gone when the stall ended
  std::uint64_t segments = 0;
  std::uint64_t bytes = 0;
};

class fault_proxy {
public:
  // Listens on 127.0.0.1 (a free port) and serves on its own thread until destroyed.
  explicit fault_proxy(fault_proxy_options options);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  unsigned short port() const;
  fault_proxy_stats stats() const; // thread-safe snapshot

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace jobpatch::test
