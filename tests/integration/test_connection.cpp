// http_connection in-process on loopback, over jobpatch's own Asio backend (io_uring with
// JOBPATCH_IO_URING): what the backend must not do to a connection.

#include "../test_skip.hpp"
#include "net/http_connection.hpp"
#include "net/io_backend.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <exception>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using jobpatch::error_class;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view request =
    "PATCH /v1/customer/jobs/j/jobname HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/json\r\nContent-Length: 3\r\n\r\n\"a\"";
constexpr std::string_view answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// Waits, 1 ms at a time and at most `limit`, until `done`.
asio::awaitable<void> wait_until(const bool& done, std::chrono::milliseconds limit) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (auto end = std::chrono::steady_clock::now() + limit;
       !done && std::chrono::steady_clock::now() < end;) {
    timer.expires_after(1ms);
    auto [ec] = co_await timer.async_wait(use_tuple);
    (void)ec;
  }
}

} // namespace

// Boost 1.81's io_uring service frees a socket's state when the socket is closed, even
// while its cancelled read is still to complete; the next socket opened takes that state,
// and the stale completion restarts the old read on it: the closed connection's read then
// takes the new connection's answer, and the new one waits for it until its deadline.
// http_connection::close() therefore only cancels an operation in flight, and the socket
// is closed once the operation has ended (socket_busy_).
TEST_CASE("connection: closing a connection whose read waits leaves the next connection's "
          "answer to it") {
  if (std::string refusal = jobpatch::net::io_uring_refusal(); !refusal.empty()) {
    jobpatch::test::skip("the kernel refuses io_uring: " + refusal);
    return;
  }
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  jobpatch::net::server_address server;
  server.host = "127.0.0.1";
  server.port = std::to_string(acceptor.local_endpoint().port());
  server.tls = false;
  server.host_header = server.host + ":" + server.port;
  server.endpoints = tcp::resolver(io).resolve(
      server.host, server.port, tcp::resolver::numeric_host | tcp::resolver::numeric_service);

  // The server reads the first connection's request and never answers it; the second's it
  // answers.
  bool first_read = false;
  tcp::socket first(io), second(io);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::string in;
        first = co_await acceptor.async_accept(asio::use_awaitable);
        co_await asio::async_read_until(first, asio::dynamic_buffer(in), "\r\n\r\n",
                                        asio::use_awaitable);
        first_read = true;
        second = co_await acceptor.async_accept(asio::use_awaitable);
        in.clear();
        co_await asio::async_read_until(second, asio::dynamic_buffer(in), "\r\n\r\n",
                                        asio::use_awaitable);
        co_await asio::async_write(second, asio::buffer(answer), asio::use_awaitable);
      },
      asio::detached);

  jobpatch::net::http_connection a(io.get_executor(), nullptr, server);
  jobpatch::net::http_connection b(io.get_executor(), nullptr, server);
  jobpatch::net::http_reply a_reply, b_reply;
  bool a_done = false, b_done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await a.exchange(request, 30s, a_reply);
        a_done = true;
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await wait_until(first_read, 10s);
        // In one handler, as when a run stops a connection and another reconnects: the
        // first connection's read is in flight, the second connection's socket is opened.
        a.close();
        co_await b.exchange(request, 5s, b_reply);
        b_done = true;
        co_await wait_until(a_done, 10s);
        io.stop(); // the connections' watchdogs would keep it running to their deadlines
      },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  io.run_for(20s);

  REQUIRE(b_done);
  INFO("second connection: " << b_reply.detail);
  CHECK(b_reply.outcome.cls == error_class::none);
  CHECK(b_reply.status == 200);
  CHECK(b_reply.body == "ok");
  REQUIRE(a_done);
  INFO("first connection: " << a_reply.detail);
  CHECK(a_reply.outcome.cls == error_class::cancelled);
  CHECK(a_reply.status == 0);
}
