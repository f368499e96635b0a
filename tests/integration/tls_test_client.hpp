#pragma once
// Test support: a small synchronous HTTP/1.1 client over TLS (certificate and host name
// verified against a given CA file) or plain TCP, one kept-alive connection, with bounded
// waits. Light header: Beast stays in tls_test_client.cpp.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace jobpatch::test {

struct http_answer {
  int status = 0; // 0 when no complete answer arrived
  std::string body;
  std::string retry_after; // Retry-After header, if any
  std::string connection;  // Connection header, if any
  std::string error;       // transport or parse error; empty on a complete answer
  bool ok() const { return error.empty(); }
};

class tls_test_client {
public:
  // `ca_file` empty: plain HTTP. `host` is used for SNI and the certificate check.
  tls_test_client(unsigned short port, std::string ca_file, std::string host = "localhost",
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~tls_test_client();
  tls_test_client(const tls_test_client&) = delete;
  tls_test_client& operator=(const tls_test_client&) = delete;

  // Sends one request on the current connection (connecting first when there is none)
  // and reads the answer. After a transport error the connection is closed, and the
  // next request opens a new one.
  http_answer request(std::string_view method, std::string_view target, std::string_view body = {},
                      std::string_view authorization = {});

  // Connects (TLS handshake included); throws std::runtime_error on failure.
  void connect();
  // Writes raw bytes on the connection; false on an error.
  bool send_raw(std::string_view bytes);
  // Reads one answer from the connection.
  http_answer read_answer();
  // True when the server has closed the connection (a read returns end of stream or an
  // error within `wait`); false when it stays open and silent for `wait`.
  bool peer_closed(std::chrono::milliseconds wait);
  bool is_open() const;
  void close();
  // Requests sent on the current connection (resets on reconnect).
  unsigned requests_on_connection() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace jobpatch::test
