#include "connect_proxy.hpp"

#include "child_process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <mutex>
#include <thread>

namespace jobpatch::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Copies `from` to `to` until either end closes; appends what passes to `record` (under
// `mutex`, at most 1 MiB) when it is not null.
asio::awaitable<void> relay(tcp::socket& from, tcp::socket& to, std::string* record,
                            std::mutex& mutex) {
  std::array<char, 16384> block;
  for (;;) {
    auto [rec, n] = co_await from.async_read_some(asio::buffer(block), use_tuple);
    if (rec) break;
    if (record) {
      std::lock_guard lock(mutex);
      if (record->size() < (1u << 20)) record->append(block.data(), n);
    }
    auto [wec, written] = co_await asio::async_write(to, asio::buffer(block.data(), n), use_tuple);
    (void)written;
    if (wec) break;
  }
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}

// The value of header `name` (case-insensitive) in `head`, or "".
std::string header_value(const std::string& head, const std::string& name) {
  std::size_t at = head.find("\r\n");
  while (at != std::string::npos && at + 2 < head.size()) {
    std::size_t end = head.find("\r\n", at + 2);
    std::string line = head.substr(at + 2, end - at - 2);
    at = end;
    auto colon = line.find(':');
    if (colon != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < colon; ++i)
      same = same && std::tolower(static_cast<unsigned char>(line[i])) ==
                         std::tolower(static_cast<unsigned char>(name[i]));
    if (!same) continue;
    std::size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    return line.substr(v);
  }
  return {};
}

} // namespace

struct connect_proxy::impl {
  connect_proxy_options o;
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  mutable std::mutex mutex;
  connect_proxy_log seen;
  std::thread thread;

  explicit impl(connect_proxy_options options) : o(std::move(options)) {}

  asio::awaitable<void> serve(tcp::socket client) {
    std::string head;
    auto [rec, n] = co_await asio::async_read_until(client, asio::dynamic_buffer(head, 65536),
                                                    "\r\n\r\n", use_tuple);
    if (rec) co_return;
    head.resize(n);
    std::string first = head.substr(0, head.find("\r\n"));
    std::string target;
    if (first.starts_with("CONNECT ")) target = first.substr(8, first.rfind(' ') - 8);
    std::string authorization = header_value(head, "Proxy-Authorization");
    {
      std::lock_guard lock(mutex);
      ++seen.connects;
      seen.targets.push_back(target);
      seen.authorizations.push_back(authorization);
      seen.hosts.push_back(header_value(head, "Host"));
    }
    if (o.refuse_with < 0) co_return; // closes without a word
    int status = o.refuse_with;
    if (!status && !o.required_authorization.empty() && authorization != o.required_authorization)
      status = 407;
    if (status) {
      std::string body = "refused by the test proxy\n";
      std::string answer = "HTTP/1.1 " + std::to_string(status) + " Refused\r\n" +
                           (status == 407 ? "Proxy-Authenticate: Basic realm=\"test\"\r\n" : "") +
                           "Content-Length: " + std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n" + body;
      co_await asio::async_write(client, asio::buffer(answer), use_tuple);
      co_return;
    }
    // host:port, the host possibly in brackets.
    auto colon = target.rfind(':');
    std::string host = target.substr(0, colon), port = target.substr(colon + 1);
    if (host.starts_with("[")) host = host.substr(1, host.size() - 2);
    tcp::resolver resolver(client.get_executor());
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, port, use_tuple);
    tcp::socket server(client.get_executor());
    boost::system::error_code cec = resolve_ec;
    if (!cec)
      std::tie(cec, std::ignore) = co_await asio::async_connect(server, endpoints, use_tuple);
    if (cec) {
      std::string answer = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
      co_await asio::async_write(client, asio::buffer(answer), use_tuple);
      co_return;
    }
    {
      std::lock_guard lock(mutex);
      ++seen.tunnels;
    }
    std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    auto [wec, written] = co_await asio::async_write(client, asio::buffer(ok), use_tuple);
    (void)written;
    if (wec) co_return;
    co_await (relay(client, server, &seen.tunnelled, mutex) &&
              relay(server, client, nullptr, mutex));
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }
};

connect_proxy::connect_proxy(connect_proxy_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

connect_proxy::~connect_proxy() {
  impl_->io.stop();
  impl_->thread.join();
}

unsigned short connect_proxy::port() const { return impl_->acceptor.local_endpoint().port(); }

connect_proxy_log connect_proxy::log() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->seen;
}

bool wait_for_listener(unsigned short port, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + slowed(timeout);
  asio::io_context io;
  while (std::chrono::steady_clock::now() < until) {
    tcp::socket s(io);
    boost::system::error_code ec;
    s.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
    if (!ec) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20)); // polling for an event
  }
  return false;
}

unsigned short free_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return a.local_endpoint().port();
}

} // namespace jobpatch::test
