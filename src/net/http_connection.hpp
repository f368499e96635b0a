#pragma once
// One persistent HTTP/1.1 connection (TLS or plain) used by one worker at a time.
// Private to the engine: it is the only place that knows Beast and OpenSSL.
//
// TLS runs OpenSSL over a minimal BIO of our own rather than Asio's ssl::stream: Asio
// reads the socket into a buffer OpenSSL takes records from, OpenSSL writes the socket
// itself. No memory BIO pair and no composed-operation chain per read and write, which
// were the largest share of the client's own CPU per request. One lazy watchdog timer
// per connection bounds every operation.

#include "net/net_errors.hpp"
#include "net/network_options.hpp"

#include <jobpatch/run/attempt_outcome.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace jobpatch::net {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Whether Asio runs on io_uring (the JOBPATCH_IO_URING build, io_backend.hpp): a request's
// bytes then go out as a send of the ring, batched with the other connections' operations
// into one io_uring_enter, rather than by a send system call each.
#if defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
inline constexpr bool sends_through_ring = true;
#else
inline constexpr bool sends_through_ring = false;
#endif

// What a non-blocking write or TLS step waits for before it can go on.
enum class io_wait { none, read, write };

// The state of a connection's TLS BIO (http_connection.cpp).
struct tls_transport {
  int fd = -1;
  const char* data = nullptr; // raw bytes read from the socket, not yet taken by OpenSSL
  std::size_t size = 0;
  bool eof = false; // the socket reached its end
  // When set, OpenSSL's writes are appended here instead of sent (sends_through_ring).
  std::string* queue = nullptr;
};

// Where requests go, resolved once per run.
struct server_address {
  std::string host; // as in the URL, for SNI and certificate checks
  std::string port;
  bool tls = true;
  bool verify = true;      // false only with --insecure
  std::string host_header; // "host" or "host:port"
  std::string base_path;   // path prefix of the base URL without trailing '/', often empty
  // The HTTP proxy that tunnels every connection (CONNECT), when one applies; then
  // `endpoints` are the proxy's and the server's name is resolved by the proxy.
  std::optional<proxy_endpoint> proxy;
  asio::ip::tcp::resolver::results_type endpoints;
};

// What one request/response exchange produced. `body` keeps its capacity across calls.
struct http_reply {
  attempt_outcome outcome; // error_class::none on a complete HTTP answer
  std::string detail;      // transport error text; empty on success
  int status = 0;
  std::string body;
  std::string retry_after; // Retry-After header, when present
  bool connection_reused = false;
  // The whole request reached the socket: the server may have received it, so a failure
  // after this point leaves the update in doubt (it may still be applied).
  bool request_written = false;
  bool answer_started = false; // a byte of the answer (or of an interim one) arrived

  // A body buffer that grew past this (a large answer) is given back once its answer is
  // judged, and after a failed read: a run holds large bodies only while they are read.
  static constexpr std::size_t keep_body_capacity = 64 << 10;
  void release_grown_body() {
    if (body.capacity() > keep_body_capacity) std::string().swap(body);
  }
};

class http_connection {
public:
  // Answers larger than this end the attempt as "answer too large" (a malformed answer:
  // retried, in doubt once written): a hostile server cannot make the client buffer
  // without bound. A real answer is the job document (~1.3 KB plus the params sent, which
  // a manifest line caps at 1 MiB by default). A body buffer that grew past
  // http_reply::keep_body_capacity is released once judged, after a failed answer and
  // before the next exchange, so memory stays at the answers being read x max_body_bytes
  // at worst, and near nothing with real answers.
  static constexpr std::uint64_t max_body_bytes = 2 << 20;
  // The status line and headers; also each chunk-size line with its extensions, and the
  // trailer section: the parts the parser waits for whole in the read buffer, counted by
  // the read loop (wire/answer_rules.hpp). The read buffer stays within twice this.
  static constexpr std::uint32_t max_header_bytes = 64 << 10;
  // Kept free after an answer's body (simdjson's padding), so it is parsed without a copy.
  static constexpr std::size_t body_slack_bytes = 64;
  static constexpr std::size_t read_buffer_bytes = 16 << 10;
  static constexpr unsigned max_interim_answers = 16; // 1xx answers before the final one
  // speaks_tls(): a TLS server answers a hello within a round trip; a plain one may wait
  // for the rest of a request that never comes.
  static constexpr std::chrono::milliseconds probe_timeout{3000};

  http_connection(asio::any_io_executor executor, asio::ssl::context* tls,
                  const server_address& server);
  ~http_connection();

  // Sends `request` (a complete HTTP/1.1 request) and reads the answer, connecting first
  // if needed; the whole attempt must finish within `timeout`. A kept-alive connection
  // found closed by the server before sending is replaced first; one that fails while the
  // request is being written is reopened and the request sent once more. Once the request
  // was fully written, a failure is returned (reply.request_written): it may have been
  // received. Interim 1xx answers are skipped.
  asio::awaitable<void> exchange(std::string_view request, std::chrono::milliseconds timeout,
                                 http_reply& reply);

  // Opens the connection now if it is not open, so that a caller pacing its requests
  // can take the rate token after the handshakes, right before the bytes leave. Returns
  // false with `reply` describing the failure.
  asio::awaitable<bool> prepare(std::chrono::milliseconds timeout, http_reply& reply);

  // Closes the socket: pending operations end with operation_aborted.
  void close() noexcept;
  bool is_open() const noexcept { return open_; }

private:
  asio::awaitable<bool> connect(std::chrono::milliseconds timeout, http_reply& reply);
  // TCP, the proxy's tunnel, the TLS handshake: connect()'s steps, under its watchdog.
  asio::awaitable<bool> establish(http_reply& reply);
  // TCP, and the proxy's tunnel when there is one.
  asio::awaitable<bool> reach(http_reply& reply);
  // The TLS handshake on the connection reach() opened; a failure says why in `reply`.
  asio::awaitable<bool> secure(http_reply& reply);
  // After a plain-HTTP request that a fresh connection closed without a byte of answer
  // (what an OpenSSL server does with one): a TLS hello on a new connection, within
  // `timeout`. True when the server answered it with a TLS record. Needs tls_.
  asio::awaitable<bool> speaks_tls(std::chrono::milliseconds timeout);
  // Asks the proxy for a tunnel to the server over the fresh TCP connection.
  asio::awaitable<bool> open_tunnel(http_reply& reply);
  asio::awaitable<bool> send_and_read(std::string_view request, http_reply& reply);
  // sends_through_ring: what the ring's send must carry for `request`, its TLS records
  // (in out_) or the plain request itself. `rest` keeps what OpenSSL did not take (never
  // more than nothing unless the server asked for a renegotiation).
  std::string_view queue_request(std::string_view& rest, boost::system::error_code& ec);
  // After the request was read: the final answer's status, Retry-After, and whether the
  // connection can be kept. False when the status answers nothing (101).
  template <class Message>
  bool take_answer(const Message& message, bool need_eof, http_reply& reply);
  // Gives the read buffer back its normal size (read_buffer_bytes) when an answer grew it.
  void shrink_read_buffer();
  // Releases a body and a read buffer that grew past their normal sizes.
  void release_grown_buffers(http_reply& reply);
  // Whether a kept-alive connection is unfit to send on: the server spoke unasked (bytes
  // read ahead), or closed it while it was idle. The kernel is asked (a poll) only when the
  // connection was idle past reuse_check_idle, at its first reuse, or once this server has
  // let a kept-alive connection die on a request: a server closes an idle connection at its idle
  // timeout (seconds), not between back-to-back requests, so a poll before every request would cost
  // a system call each for nothing.
  bool peer_closed_or_spoke(std::chrono::steady_clock::time_point now) noexcept;
  static constexpr std::chrono::milliseconds reuse_check_idle{250};

  // The transport, TLS or plain. Each returns its error as a value; an error after the
  // watchdog fired is beast::error::timeout.
  asio::awaitable<boost::system::error_code> handshake();
  // Writes what the socket takes now (`data` keeps the rest), or says what to wait for.
  io_wait write_now(std::string_view& data, boost::system::error_code& ec);
  asio::awaitable<boost::system::error_code> write_all(std::string_view data);
  // Waits for what OpenSSL needs: the socket's next bytes (into raw_), or room to write.
  asio::awaitable<boost::system::error_code> fill(bool to_write);
  boost::system::error_code took_raw(const boost::system::error_code& ec, std::size_t n);
  // Reads one HTTP message into `parser` through buffer_ (as Beast's http::read does).
  template <class Parser>
  asio::awaitable<boost::system::error_code> read_message(Parser& parser);
  boost::system::error_code timed(const boost::system::error_code& ec) const;

  // The watchdog: watch() bounds what follows by `deadline` (closing the socket when it
  // passes), unwatch() ends that. The timer is only re-armed when it fires, so a request
  // costs no timer operation when deadlines move forward.
  void watch(std::chrono::steady_clock::time_point deadline);
  void unwatch() noexcept { watching_ = false; }
  void arm_watchdog();
  void on_watchdog(std::uint64_t generation);

  // Storage for the header fields of the answer being read: Beast's fields allocate one
  // block per header line, and a real answer's headers fit here (more go to the heap).
  // Reset before each exchange, when the previous answer's parser is gone.
  struct header_arena {
    alignas(16) std::byte storage[4096];
    std::size_t used = 0;
  };

  header_arena arena_;
  asio::any_io_executor executor_;
  asio::ssl::context* tls_;
  const server_address& server_;
  asio::ip::tcp::socket socket_;
  struct ssl_free {
    void operator()(SSL* ssl) const noexcept;
  };
  std::unique_ptr<SSL, ssl_free> ssl_; // the connection's TLS state; null when plain
  // What the connection's BIO hands OpenSSL: the socket to write, and the bytes of the
  // last socket read not yet taken (raw_, raw_bytes long).
  static constexpr std::size_t raw_bytes = 17 << 10; // a whole TLS record and its header
  std::unique_ptr<char[]> raw_;
  tls_transport transport_;
  std::string out_; // sends_through_ring: the request's TLS records, as the ring sends them
  // An operation on the socket is in flight (sends_through_ring): close() then shuts the
  // socket down, which ends the operation, and the socket is closed once it has ended;
  // aborted_ says that close() (not the watchdog) ended it. Never cancelled, nor closed
  // under it: Boost 1.81's io_uring service submits a cancel with the stale user data of
  // its ring slot, whose completion then ends another socket's operation (a connection
  // read "end of stream" while another one timed out); and it frees a closed socket's
  // state while a cancelled operation is still to complete, so the next socket opened
  // gets that state and the stale completion restarts the old operation on it.
  bool socket_busy_ = false;
  bool aborted_ = false;
  beast::flat_buffer buffer_;
  // The watchdog's state, shared with its pending handler so that a handler running after
  // this connection is gone does nothing.
  struct watch_owner {
    http_connection* connection;
  };
  std::shared_ptr<watch_owner> watch_owner_;
  asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point deadline_{};
  std::uint64_t watch_generation_ = 0;
  bool watching_ = false, armed_ = false, timed_out_ = false;
  bool open_ = false;
  // The first bytes the server sent in a TLS handshake: what tells a plain HTTP server
  // ("HTTP/") or a TLS one (a record) apart when the handshake fails.
  std::array<char, 5> handshake_bytes_{};
  std::size_t handshake_bytes_size_ = 0;
  bool probed_ = false; // speaks_tls() ran: once per connection
  std::uint64_t requests_on_connection_ = 0;
  std::chrono::steady_clock::time_point last_answer_{}; // when the last answer was read
  // Requests in a row that a reused connection took and died on without answering; at
  // max_reuse_deaths, reuse_ goes false for good: one request per connection.
  static constexpr unsigned max_reuse_deaths = 2;
  unsigned reuse_deaths_in_a_row_ = 0;
  bool reuse_ = true;
};

// Parses --base-url (http:// or https://, optional port and path prefix; no credentials,
// query or fragment; IPv6 literals in brackets) and picks the proxy for it from `proxy`.
// Throws std::runtime_error (std::invalid_argument for a bad proxy URL) with a message
// naming the problem. The endpoints are left to resolve.
server_address parse_server_address(const std::string& base_url, bool verify,
                                    const proxy_settings& proxy = {});

// Resolves `server`'s host (or its proxy's) once per run: a host that does not resolve
// is a setup failure, not thousands of failed lines.
// Throws unresolvable_host (net_errors.hpp).
void resolve_server(const asio::any_io_executor& executor, server_address& server);

// Builds the client TLS context: TLS 1.2 minimum, system trust store plus `ca_file`,
// peer verification unless `verify` is false, and the client certificate of `network`
// (--cert/--key) when one is given. Throws std::runtime_error with a clear message when
// `ca_file`, the certificate or the key cannot be loaded, the key is encrypted and no
// password was given, or the key does not belong to the certificate. Without
// `system_store` the system's trust anchors are not loaded (~90,000 allocations): for a
// check of what can fail, before the run builds the context it uses.
asio::ssl::context make_client_tls_context(const std::string& ca_file, bool verify,
                                           const network_options& network = {},
                                           bool system_store = true);

} // namespace jobpatch::net
