#pragma once
// Test support: a small HTTP CONNECT proxy on 127.0.0.1 (a free port), on its own thread.
// It tunnels to the host:port each CONNECT names, or refuses the way a test asks (an
// HTTP status, a closed connection), and records what it was asked, so a test can tell
// that the tunnel was used and which Proxy-Authorization came with it.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace jobpatch::test {

struct connect_proxy_options {
  // 0: tunnel. Another status: answer every CONNECT with it (and a small body), then
  // close. -1: close the connection without answering.
  int refuse_with = 0;
  // Non-empty: a CONNECT without exactly this Proxy-Authorization is answered 407.
  std::string required_authorization;
};

// What the proxy saw.
struct connect_proxy_log {
  unsigned connects = 0;                   // CONNECT requests read
  unsigned tunnels = 0;                    // of them, tunnelled to the server
  std::vector<std::string> targets;        // the CONNECT targets, in order
  std::vector<std::string> authorizations; // their Proxy-Authorization ("" when none)
  std::vector<std::string> hosts;          // their Host headers
  // The bytes clients sent through the tunnels (the first MiB): plain HTTP when the
  // server is, so a test can read the requests.
  std::string tunnelled;
};

class connect_proxy {
public:
  explicit connect_proxy(connect_proxy_options options = {});
  ~connect_proxy();
  connect_proxy(const connect_proxy&) = delete;
  connect_proxy& operator=(const connect_proxy&) = delete;

  unsigned short port() const;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  connect_proxy_log log() const; // thread-safe snapshot

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Waits up to slowed(`timeout`) until something accepts TCP connections on
// 127.0.0.1:`port` (a server started as a child process); false on timeout.
bool wait_for_listener(unsigned short port, std::chrono::milliseconds timeout);

// A port that was free a moment ago on 127.0.0.1, for a server that must be told its
// port in a configuration file (tinyproxy).
unsigned short free_port();

} // namespace jobpatch::test
