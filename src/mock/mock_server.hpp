#pragma once
// jobpatch-mock's network shell: accepts HTTP/1.1 (TLS or plain) keep-alive connections
// and carries out what mock_api decides. Light header: no Asio or Beast here.

#include "mock/mock_options.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace jobpatch::mock {

class mock_server {
public:
  // Creates the jobs, the TLS identity (written to cert_out), binds and listens, then
  // writes port_file. Throws std::exception with a clear message on a setup failure.
  explicit mock_server(mock_options options);
  ~mock_server();
  mock_server(const mock_server&) = delete;
  mock_server& operator=(const mock_server&) = delete;

  std::uint16_t port() const noexcept;
  // The certificate clients must trust (empty with plain HTTP).
  const std::string& certificate_pem() const noexcept;
  // Serves on options.threads threads until stop() or, with handle_signals, SIGINT or
  // SIGTERM; then closes the journal (every record is already written).
  void run();
  // Thread-safe; run() returns soon after.
  void stop();
  // The /mock/stats document.
  std::string stats_json() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace jobpatch::mock
