#include "mock/mock_server.hpp"

#include "mock/mock_api.hpp"
#include "mock/self_signed_certificate.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <openssl/ssl.h>

namespace jobpatch::mock {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t max_header_bytes = 16 * 1024;
constexpr std::uint64_t max_body_bytes = std::uint64_t{1024} * 1024;
constexpr std::chrono::seconds handshake_timeout{10};
constexpr std::chrono::seconds shutdown_timeout{2};

// Writes `text` to `path` through a temporary file, so a reader polling for a non-empty
// file never sees half of it.
void write_file_atomically(const std::string& path, const std::string& text) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot write " + path);
}

method to_method(http::verb verb) noexcept {
  switch (verb) {
  case http::verb::get:
    return method::get;
  case http::verb::post:
    return method::post;
  case http::verb::patch:
    return method::patch;
  default:
    return method::other;
  }
}

std::string_view view(beast::string_view s) noexcept { return {s.data(), s.size()}; }

// The API's view of a parsed request; `body` is its body, padded for simdjson.
api_request to_call(const http::request<http::string_body>& request, const std::string& body) {
  api_request call;
  call.verb = to_method(request.method());
  call.target = view(request.target());
  if (auto it = request.find(http::field::authorization); it != request.end())
    call.authorization = view(it->value());
  call.body = body;
  call.body_readable = body.capacity();
  return call;
}

} // namespace

struct mock_server::impl {
  mock_options options;
  job_store store;
  token_table tokens;
  mock_stats stats;
  mock_api api;
  tls_identity identity;
  std::optional<ssl::context> tls;
  // Declared after everything the connections use, so that destroying it (and with it
  // the suspended connection coroutines) happens first.
  asio::io_context io;
  asio::strand<asio::io_context::executor_type> control; // the acceptor and stop()
  tcp::acceptor acceptor;
  asio::signal_set signals;
  std::uint16_t port = 0;
  std::uint64_t connections = 0; // accept order, seeds each connection's fault PRNG

  explicit impl(mock_options o)
      : options(std::move(o)), store(options.journal), tokens(options.token_ttl),
        api(options, store, tokens, stats), io(static_cast<int>(std::max(1u, options.threads))),
        control(asio::make_strand(io)), acceptor(control), signals(control) {
    char id[16];
    for (std::uint64_t n = 1; n <= options.jobs; ++n) {
      std::snprintf(id, sizeof id, "job-%07llu", static_cast<unsigned long long>(n));
      store.create(id);
    }
    for (const auto& job : options.job_ids) store.create(job);

    if (options.tls) {
      identity = make_self_signed_certificate();
      tls.emplace(ssl::context::tls_server);
      SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
      tls->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                       ssl::context::single_dh_use);
      tls->use_certificate_chain(asio::buffer(identity.certificate_pem));
      tls->use_private_key(asio::buffer(identity.private_key_pem), ssl::context::pem);
      if (!options.client_ca.empty()) {
        // Client certificates required: signed by a CA of the file, or no handshake.
        boost::system::error_code ec;
        tls->load_verify_file(options.client_ca, ec);
        if (ec)
          throw std::runtime_error("cannot load --client-ca " + options.client_ca + ": " +
                                   ec.message());
        tls->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      }
      if (!options.cert_out.empty())
        write_file_atomically(options.cert_out, identity.certificate_pem);
    }

    tcp::endpoint endpoint(asio::ip::make_address(options.host), options.port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    port = acceptor.local_endpoint().port();
    api.start_capacity_clock(std::chrono::steady_clock::now()); // --capacity-after's zero
    if (!options.port_file.empty())
      write_file_atomically(options.port_file, std::to_string(port) + "\n");
  }

  asio::awaitable<void> accept_loop() {
    asio::steady_timer backoff(control);
    for (;;) {
      // One thread: no strand needed. Several: each connection on its own strand, so
      // its timeouts never run concurrently with its reads and writes.
      asio::any_io_executor executor = options.threads > 1
                                           ? asio::any_io_executor(asio::make_strand(io))
                                           : asio::any_io_executor(io.get_executor());
      auto [ec, socket] = co_await acceptor.async_accept(executor, use_tuple);
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) { // e.g. out of file descriptors: wait instead of spinning
        std::fprintf(stderr, "jobpatch-mock: accept: %s\n", ec.message().c_str());
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(use_tuple);
        continue;
      }
      std::uint64_t index = connections++;
      auto ex = socket.get_executor();
      asio::co_spawn(ex, serve(std::move(socket), index), [](const std::exception_ptr& e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          std::fprintf(stderr, "jobpatch-mock: connection failed: %s\n", x.what());
        }
      });
    }
  }

  asio::awaitable<void> serve(tcp::socket socket, std::uint64_t index) {
    stats.connection_opened();
    struct close_count {
      mock_stats& stats;
      ~close_count() { stats.connection_closed(); }
    } counted{stats};
    fault_rng rng(options.seed * 0x9E3779B97F4A7C15ull + index);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    beast::tcp_stream plain(std::move(socket));
    if (!tls) {
      bool graceful = co_await session(plain, plain, rng);
      if (graceful) plain.socket().shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> secure(std::move(plain), *tls);
    secure.next_layer().expires_after(
        std::min<std::chrono::seconds>(handshake_timeout, options.idle_timeout));
    auto [hec] = co_await secure.async_handshake(ssl::stream_base::server, use_tuple);
    if (hec) co_return;
    bool graceful = co_await session(secure, secure.next_layer(), rng);
    if (graceful) {
      secure.next_layer().expires_after(shutdown_timeout);
      auto [sec] = co_await secure.async_shutdown(use_tuple);
      (void)sec;
    }
  }

  // Serves the requests of one connection; true when it ends with an answer that said
  // "Connection: close" (close politely), false when the connection is just dropped.
  template <class Stream>
  asio::awaitable<bool> session(Stream& stream, beast::tcp_stream& tcp, fault_rng& rng) {
    beast::flat_buffer buffer;
    buffer.reserve(16 << 10); // Beast reads the free capacity: a whole request per read
    std::string body, wire;
    api_reply reply;
    asio::steady_timer delay(tcp.get_executor());
    std::optional<http::request_parser<http::string_body>> parser;
    for (;;) {
      parser.emplace();
      parser->header_limit(max_header_bytes);
      parser->body_limit(max_body_bytes);
      body.clear();
      parser->get().body().swap(body); // reuse the capacity of earlier bodies
      tcp.expires_after(options.idle_timeout);
      auto [ec, read] = co_await http::async_read(stream, buffer, *parser, use_tuple);
      (void)read;
      parser->get().body().swap(body);
      if (ec) {
        if (!answer_protocol_error(ec, reply)) co_return false;
      } else {
        auto& request = parser->get();
        body.reserve(body.size() + 64); // simdjson reads up to 64 bytes past the end
        api_request call = to_call(request, body);
        auto now = std::chrono::steady_clock::now();
        capacity_pass pass = api.admit(call, now, reply);
        if (!pass.refused) {
          if (pass.answer_at > now) { // in the capacity model's queue or service
            delay.expires_at(pass.answer_at);
            co_await delay.async_wait(use_tuple);
          }
          api.handle(call, rng, reply);
        }
        if (!request.keep_alive()) reply.close = true;
      }
      if (reply.delay.count() > 0) {
        delay.expires_after(reply.delay);
        co_await delay.async_wait(use_tuple);
      }
      if (reply.action == reply_action::drop) co_return false;
      std::size_t header_size = compose_response(reply, wire);
      std::size_t length = wire.size();
      if (reply.action == reply_action::truncate) length = header_size + reply.body.size() / 2;
      tcp.expires_after(options.idle_timeout);
      auto [wec, written] =
          co_await asio::async_write(stream, asio::buffer(wire.data(), length), use_tuple);
      (void)written;
      if (wec || reply.action == reply_action::truncate) co_return false;
      if (reply.close) co_return true;
    }
  }

  // A request that failed to parse: fills `reply` with the answer (the connection closes
  // after it), or returns false when there is nobody left to answer.
  bool answer_protocol_error(const error_code& ec, api_reply& reply) {
    if (ec == http::error::body_limit)
      api.protocol_error(413, "request body larger than 1 MiB", reply);
    else if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
      api.protocol_error(431, "request header larger than 16 KiB", reply);
    else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
             ec != http::error::end_of_stream && ec != http::error::partial_message)
      api.protocol_error(400, "malformed HTTP request: " + ec.message(), reply);
    else
      return false; // closed, reset, timed out or TLS failure: only this connection ends
    return true;
  }
};

mock_server::mock_server(mock_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}

mock_server::~mock_server() = default;

std::uint16_t mock_server::port() const noexcept { return impl_->port; }

const std::string& mock_server::certificate_pem() const noexcept {
  return impl_->identity.certificate_pem;
}

void mock_server::run() {
  impl& s = *impl_;
  if (s.options.handle_signals) {
    s.signals.add(SIGINT);
    s.signals.add(SIGTERM);
    s.signals.async_wait([this](const error_code& ec, int) {
      if (!ec) stop();
    });
  }
  asio::co_spawn(s.control, s.accept_loop(), asio::detached);
  std::vector<std::thread> extra;
  for (unsigned i = 1; i < s.options.threads; ++i) extra.emplace_back([&s] { s.io.run(); });
  s.io.run();
  for (auto& t : extra) t.join();
  s.store.close_journal();
}

void mock_server::stop() {
  asio::post(impl_->control, [&s = *impl_] {
    error_code ignored;
    s.acceptor.close(ignored);
    s.signals.cancel(ignored);
    s.io.stop();
  });
}

std::string mock_server::stats_json() const {
  return impl_->api.stats_json(std::chrono::steady_clock::now());
}

} // namespace jobpatch::mock
