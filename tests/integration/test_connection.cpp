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

#include <atomic>
#include <chrono>
#include <exception>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

// A plain-HTTP server address for `acceptor`.
jobpatch::net::server_address address_of(asio::io_context& io, const tcp::acceptor& acceptor) {
  jobpatch::net::server_address server;
  server.host = "127.0.0.1";
  server.port = std::to_string(acceptor.local_endpoint().port());
  server.tls = false;
  server.host_header = server.host + ":" + server.port;
  server.endpoints = tcp::resolver(io).resolve(
      server.host, server.port, tcp::resolver::numeric_host | tcp::resolver::numeric_service);
  return server;
}

// True, with the test reported skipped, when the kernel refuses io_uring.
bool ring_refused() {
  std::string refusal = jobpatch::net::io_uring_refusal();
  if (refusal.empty()) return false;
  jobpatch::test::skip("the kernel refuses io_uring: " + refusal);
  return true;
}

// Runs `io` until it has nothing left to do or for `limit`. Not io_context::run_for():
// Boost 1.81's io_uring service then submits a timeout of its own, and its removal with
// the stale user data of its ring slot, which ends another operation (see below).
void run_at_most(asio::io_context& io, std::chrono::milliseconds limit) {
  asio::steady_timer guard(io, limit);
  guard.async_wait([&io](const boost::system::error_code& ec) {
    if (!ec) io.stop();
  });
  io.run();
}

// Runs one exchange of `request` on `connection` within `timeout`; `done` is set when it
// has ended (and `ended` to when, if given).
template <class Flag>
void spawn_exchange(asio::io_context& io, jobpatch::net::http_connection& connection,
                    std::chrono::milliseconds timeout, jobpatch::net::http_reply& reply, Flag& done,
                    std::chrono::steady_clock::time_point* ended = nullptr) {
  asio::co_spawn(
      io,
      [&connection, &reply, &done, ended, timeout]() -> asio::awaitable<void> {
        co_await connection.exchange(request, timeout, reply);
        if (ended) *ended = std::chrono::steady_clock::now();
        done = true;
      },
      asio::detached);
}

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
// http_connection::close() therefore never closes (nor cancels) under an operation in
// flight: it shuts the socket down, and the socket is closed once the operation has ended
// (socket_busy_).
TEST_CASE("connection: closing a connection whose read waits leaves the next connection's "
          "answer to it") {
  if (ring_refused()) return;
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  jobpatch::net::server_address server = address_of(io, acceptor);

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
  spawn_exchange(io, a, 30s, a_reply, a_done);
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
  run_at_most(io, 20s);

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

// Boost 1.81's io_uring service submits a cancel with whatever user data its ring slot held
// last (get_sqe() leaves it; later Asio clears it): once the ring has gone round (16,384
// entries), the cancel's completion goes to the operation that used the slot before, and
// a read still waiting on another socket ends with "end of stream". Here the second
// connection's reads fill the ring first (an answer trickled a byte at a time, from a
// server on its own thread and ring); then the first connection is closed while both
// wait. Its close cancels nothing (it shuts its socket down), so the second connection
// still reads its answer.
TEST_CASE("connection: closing a connection whose read waits ends no other connection's "
          "read") {
  if (ring_refused()) return;
  asio::io_context io;
  asio::io_context server_io; // another ring: the server's work stays out of the client's
  tcp::acceptor acceptor(server_io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  jobpatch::net::server_address server = address_of(io, acceptor);
  jobpatch::net::http_connection a(io.get_executor(), nullptr, server);
  jobpatch::net::http_connection b(io.get_executor(), nullptr, server);
  constexpr std::size_t trickled = 24000; // bytes, about one read each: past the ring's size
  std::atomic<bool> a_done = false, stop = false;

  // B's first request: a body trickled a byte at a time. B's second request and A's: read;
  // then A is closed (on the client's thread) and, once A's exchange has ended, B answered.
  std::thread serving([&] {
    boost::system::error_code ec;
    std::string in;
    tcp::socket sb(server_io), sa(server_io);
    acceptor.accept(sb, ec);
    asio::read_until(sb, asio::dynamic_buffer(in), "\r\n\r\n", ec);
    in.clear();
    asio::write(
        sb,
        asio::buffer("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(trickled) + "\r\n\r\n"),
        ec);
    for (std::size_t i = 0; i < trickled && !ec && !stop; ++i) {
      asio::write(sb, asio::buffer("x", 1), ec);
      std::this_thread::sleep_for(20us);
    }
    asio::read_until(sb, asio::dynamic_buffer(in), "\r\n\r\n", ec);
    acceptor.accept(sa, ec);
    std::string a_in;
    asio::read_until(sa, asio::dynamic_buffer(a_in), "\r\n\r\n", ec);
    asio::post(io, [&] { a.close(); });
    for (auto end = std::chrono::steady_clock::now() + 10s;
         !a_done && !stop && std::chrono::steady_clock::now() < end;)
      std::this_thread::sleep_for(1ms);
    asio::write(sb, asio::buffer(answer), ec);
    while (!stop) std::this_thread::sleep_for(1ms); // both connections stay open
  });

  jobpatch::net::http_reply a_reply, b_first, b_second;
  bool b_done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await b.exchange(request, 60s, b_first);
        spawn_exchange(io, a, 30s, a_reply, a_done);
        co_await b.exchange(request, 20s, b_second);
        b_done = true;
        io.stop(); // the connections' watchdogs would keep it running to their deadlines
      },
      [](const std::exception_ptr& e) {
        if (e) std::rethrow_exception(e);
      });
  run_at_most(io, 90s);
  stop = true;
  serving.join();

  INFO("trickled answer: " << b_first.detail);
  REQUIRE(b_first.status == 200);
  CHECK(b_first.body.size() == trickled);
  REQUIRE(b_done);
  INFO("second connection, second answer: " << b_second.detail);
  CHECK(b_second.outcome.cls == error_class::none);
  CHECK(b_second.body == "ok");
  REQUIRE(a_done);
  INFO("first connection: " << a_reply.detail);
  CHECK(a_reply.outcome.cls == error_class::cancelled);
}

namespace {

// A listener on loopback whose accept queue is full: the kernel drops further SYNs, so a
// connect to it stays in progress (until the kernel's own SYN retries give up, about two
// minutes later).
class full_listener {
public:
  full_listener() {
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor_.listen(0);
    // A queue of length 0 takes one connection; the others' SYNs are dropped already.
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(acceptor_.local_endpoint().port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int& fd : fillers_) {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      (void)::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    }
  }
  full_listener(const full_listener&) = delete;
  full_listener& operator=(const full_listener&) = delete;
  ~full_listener() {
    for (int fd : fillers_) ::close(fd);
  }
  const tcp::acceptor& acceptor() const { return acceptor_; }

private:
  asio::io_context io_; // never run: the listener only listens
  tcp::acceptor acceptor_{io_};
  int fillers_[3] = {-1, -1, -1};
};

} // namespace

// A connect the server never completes: the watchdog ends it at the attempt's deadline,
// and close() (a run stopping) at once. On the ring both shut the socket down, which
// ends a connect in progress; were they to leave it, it would last until the kernel gives
// up on the SYN.
TEST_CASE("connection: a connect that never completes ends at the deadline, or at close") {
  if (ring_refused()) return;
  full_listener server;
  asio::io_context io;
  jobpatch::net::server_address address = address_of(io, server.acceptor());
  jobpatch::net::http_connection timed(io.get_executor(), nullptr, address);
  jobpatch::net::http_connection closed(io.get_executor(), nullptr, address);
  jobpatch::net::http_reply timed_reply, closed_reply;
  bool timed_done = false, closed_done = false;
  auto started = std::chrono::steady_clock::now();
  auto timed_end = started, closed_end = started;
  spawn_exchange(io, timed, 500ms, timed_reply, timed_done, &timed_end);
  spawn_exchange(io, closed, 40s, closed_reply, closed_done, &closed_end);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await wait_until(timed_done, 30s);
        closed.close(); // its connect is still in progress, its deadline 40 s away
        co_await wait_until(closed_done, 30s);
        io.stop(); // the watchdogs would keep it running to their deadlines
      },
      asio::detached);
  run_at_most(io, 50s);

  REQUIRE(timed_done);
  INFO("timed: " << timed_reply.detail);
  CHECK(timed_reply.outcome.cls == error_class::timeout);
  CHECK(timed_end - started < 30s);
  REQUIRE(closed_done);
  INFO("closed: " << closed_reply.detail);
  CHECK(closed_reply.outcome.cls == error_class::connect_failed);
  CHECK(closed_reply.detail.find("canceled") != std::string::npos);
  CHECK(closed_end - started < 30s);
}
