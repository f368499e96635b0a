// Fuzz entry for HTTP response framing: http_connection::exchange (plain HTTP) against a
// loopback server that answers with the fuzz bytes and closes. Whatever the bytes, the
// exchange ends (bounded by its timeout) with an outcome, and never buffers beyond the
// connection's limits.

#include "fuzz_entries.hpp"

#include "net/http_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <string>

namespace jobpatch::fuzz {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view request =
    "PATCH /v1/customer/jobs/j/jobname HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/json\r\nContent-Length: 3\r\n\r\n\"a\"";

// Serves the first connection: reads the request, writes `answer` in `segment`-byte
// writes, stops sending, then reads (and ignores) until the client closes. Later
// connections (the client's one reconnect) are closed at once.
asio::awaitable<void> serve(tcp::acceptor& acceptor, std::string_view answer, std::size_t segment) {
  bool first = true;
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    if (!first) continue; // the socket closes here
    first = false;
    socket.set_option(tcp::no_delay(true), ec);
    std::string in;
    auto [rec, n] =
        co_await asio::async_read_until(socket, asio::dynamic_buffer(in), "\r\n\r\n", use_tuple);
    (void)n;
    if (rec) continue;
    for (std::size_t at = 0; at < answer.size(); at += segment) {
      auto [wec, w] = co_await asio::async_write(
          socket, asio::buffer(answer.substr(at, std::min(segment, answer.size() - at))),
          use_tuple);
      (void)w;
      if (wec) break;
    }
    socket.shutdown(tcp::socket::shutdown_send, ec);
    // Drain in the background so that a second request on this connection can be read.
    asio::co_spawn(
        acceptor.get_executor(),
        [s = std::move(socket)]() mutable -> asio::awaitable<void> {
          char sink[4096];
          while (true) {
            auto [e, k] = co_await s.async_read_some(asio::buffer(sink), use_tuple);
            (void)k;
            if (e) co_return;
          }
        },
        asio::detached);
  }
}

void check_reply(const net::http_reply& reply, const net::http_connection& connection) {
  require(reply.body.size() <= net::http_connection::max_body_bytes, "body over the limit");
  if (reply.outcome.cls == error_class::none) {
    // Only a final answer answers the request (a 101 switches the connection away).
    require(reply.status >= 200 && reply.status <= 599, "status of no final answer");
    require(reply.detail.empty(), "success with an error text");
  } else {
    require(!reply.detail.empty(), "failure without an error text");
    require(!connection.is_open(), "connection kept after a failed exchange");
  }
}

} // namespace

int http_response_entry(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t segment = data[0] == 0 ? size : data[0];
  std::string_view answer(reinterpret_cast<const char*>(data) + 1, size - 1);

  asio::io_context io;
  // Long runs leave tens of thousands of client ports in TIME_WAIT: allow binding next to
  // them, and skip an input when loopback is out of ports (not a finding).
  tcp::acceptor acceptor(io);
  boost::system::error_code bind_error;
  acceptor.open(tcp::v4(), bind_error);
  acceptor.set_option(tcp::acceptor::reuse_address(true), bind_error);
  acceptor.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0), bind_error);
  if (!bind_error) acceptor.listen(asio::socket_base::max_listen_connections, bind_error);
  if (bind_error) return 0;
  net::server_address server;
  server.host = "127.0.0.1";
  server.port = std::to_string(acceptor.local_endpoint().port());
  server.tls = false;
  server.verify = false;
  server.host_header = server.host + ":" + server.port;
  server.endpoints = tcp::resolver(io).resolve(
      server.host, server.port, tcp::resolver::numeric_host | tcp::resolver::numeric_service);

  // The server always stops sending, so no exchange may sit out its 2 s timeout.
  auto started = std::chrono::steady_clock::now();
  bool done = false;
  // Bounds the run. Not io.run_for(): on io_uring, Boost 1.81 then submits a timeout of its
  // own, and its removal with the stale user data of a ring slot, which can end a read.
  asio::steady_timer guard(io, 10s);
  guard.async_wait([&io](const boost::system::error_code& ec) {
    if (!ec) io.stop();
  });
  asio::co_spawn(io, serve(acceptor, answer, segment), asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        net::http_connection connection(io.get_executor(), nullptr, server);
        net::http_reply reply;
        co_await connection.exchange(request, 2s, reply);
        check_reply(reply, connection);
        // A second request on a connection kept alive: leftover bytes must not be taken
        // for its answer without being parsed as one.
        if (reply.outcome.cls == error_class::none && connection.is_open()) {
          co_await connection.exchange(request, 2s, reply);
          check_reply(reply, connection);
        }
        connection.close();
        // The pending accept ends with an error and the server's loop with it. Not
        // acceptor.close(): on io_uring, Boost 1.81 would cancel the accept with a stale
        // ring slot's user data and free the acceptor's state under it.
        ::shutdown(acceptor.native_handle(), SHUT_RDWR);
        guard.cancel();
        done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  require(done, "the exchange did not end within 10 s");
  require(std::chrono::steady_clock::now() - started < 1500ms,
          "waited for the timeout although the server had closed");
  return 0;
}

} // namespace jobpatch::fuzz
