#include "fault_proxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <random>
#include <thread>

#include <poll.h>
#include <sys/socket.h>

namespace jobpatch::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::steady_clock;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Both ends of one proxied connection.
struct session {
  tcp::socket client, server;
  bool closed = false;
  explicit session(tcp::socket c) : client(std::move(c)), server(client.get_executor()) {}

  // RST both ways: SO_LINGER 0, then close.
  void reset() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    for (tcp::socket* s : {&client, &server}) {
      s->set_option(asio::socket_base::linger(true, 0), ignored);
      s->close(ignored);
    }
  }
  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    client.close(ignored);
    server.close(ignored);
  }
};
// Whether the client closed its end (FIN or RST). POLLRDHUP reports a FIN even while
// bytes the client sent before closing are still unread. A MSG_PEEK recv (used before)
// only sees the FIN once those are consumed, and behind a stalled chunk there can be
// more (the rest of a request, or the request behind a stalled handshake message): the
// stalled chunk and what followed reached the server after the client had retried the
// update and sent the job's later ones, failing the order check ~1 run in 8.
bool peer_gone(tcp::socket& socket) {
  pollfd p{socket.native_handle(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

} // namespace

struct fault_proxy::impl {
  fault_proxy_options o;
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  std::mt19937_64 random; // used on the proxy thread only
  std::atomic<std::uint64_t> connections{0}, resets_up{0}, resets_down{0}, stalls{0}, segments{0},
      bytes{0}, stalled_dropped{0};
  std::thread thread;

  explicit impl(fault_proxy_options options) : o(options), random(options.seed) {}

  double uniform() { return std::uniform_real_distribution<double>(0, 1)(random); }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : random() % n; }

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> open(std::shared_ptr<session> s);
  asio::awaitable<void> pump(std::shared_ptr<session> s, bool upstream);
};

asio::awaitable<void> fault_proxy::impl::accept_loop() {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    ++connections;
    asio::co_spawn(io, open(std::make_shared<session>(std::move(socket))), asio::detached);
  }
}

asio::awaitable<void> fault_proxy::impl::open(std::shared_ptr<session> s) {
  auto [ec] = co_await s->server.async_connect(
      tcp::endpoint(asio::ip::address_v4::loopback(), o.upstream_port), use_tuple);
  if (ec) {
    s->close();
    co_return;
  }
  s->client.set_option(tcp::no_delay(true), ec);
  s->server.set_option(tcp::no_delay(true), ec);
  asio::co_spawn(io, pump(s, true), asio::detached);
  asio::co_spawn(io, pump(s, false), asio::detached);
}

// Forwards one direction chunk by chunk: each chunk waits latency + jitter (+ a stall),
// goes out in tiny paced writes, and may be cut short by a reset.
asio::awaitable<void> fault_proxy::impl::pump(std::shared_ptr<session> s, bool upstream) {
  tcp::socket& from = upstream ? s->client : s->server;
  tcp::socket& to = upstream ? s->server : s->client;
  std::array<char, 16384> buffer;
  asio::steady_timer timer(io);
  auto paced_until = steady_clock::now();
  while (!s->closed) {
    auto [rec, n] = co_await from.async_read_some(asio::buffer(buffer), use_tuple);
    if (s->closed) co_return;
    if (rec) {
      boost::system::error_code ignored;
      if (rec == asio::error::eof)
        to.shutdown(tcp::socket::shutdown_send, ignored);
      else
        s->close();
      co_return;
    }
    auto delay = o.latency + std::chrono::milliseconds(below(o.jitter.count() + 1));
    bool stalled = false;
    if (uniform() < o.stall_probability) {
      ++stalls;
      delay += o.stall;
      stalled = true;
    }
    std::size_t forward = n;
    bool reset = uniform() < o.reset_probability;
    if (reset) forward = below(n); // part of the chunk, possibly nothing
    timer.expires_after(delay);
    co_await timer.async_wait(use_tuple);
    if (stalled && upstream && o.drop_stalled_request_of_closed_client && !s->closed &&
        peer_gone(s->client)) {
      ++stalled_dropped;
      s->close();
      co_return;
    }
    for (std::size_t at = 0; at < forward && !s->closed;) {
      std::size_t segment =
          std::min(forward - at, 1 + below(std::max<std::size_t>(o.max_segment, 1)));
      auto [wec, written] =
          co_await asio::async_write(to, asio::buffer(buffer.data() + at, segment), use_tuple);
      if (wec) {
        s->close();
        co_return;
      }
      at += written;
      ++segments;
      bytes += written;
      if (o.bytes_per_second > 0) {
        paced_until = std::max(paced_until, steady_clock::now() - std::chrono::milliseconds(50)) +
                      std::chrono::microseconds(written * 1'000'000 / o.bytes_per_second);
        if (paced_until > steady_clock::now()) {
          timer.expires_at(paced_until);
          co_await timer.async_wait(use_tuple);
        }
      }
    }
    if (reset && !s->closed) {
      ++(upstream ? resets_up : resets_down);
      s->reset();
      co_return;
    }
  }
}

fault_proxy::fault_proxy(fault_proxy_options options) : impl_(std::make_unique<impl>(options)) {
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

fault_proxy::~fault_proxy() {
  impl_->io.stop();
  impl_->thread.join();
}

unsigned short fault_proxy::port() const { return impl_->acceptor.local_endpoint().port(); }

fault_proxy_stats fault_proxy::stats() const {
  return {impl_->connections.load(), impl_->resets_up.load(),       impl_->resets_down.load(),
          impl_->stalls.load(),      impl_->stalled_dropped.load(), impl_->segments.load(),
          impl_->bytes.load()};
}

} // namespace jobpatch::test
