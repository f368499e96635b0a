#include "net/http_connection.hpp"

#include <cctype>
#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/url/parse.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <poll.h>

#include <optional>
#include <stdexcept>

namespace jobpatch::net {

namespace http = beast::http;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Sorts a transport error into the classes retries and fail-fast decide on.
error_class classify(const error_code& ec) {
  namespace errc = boost::system::errc;
  if (ec == beast::error::timeout) return error_class::timeout;
  if (ec == asio::error::operation_aborted) return error_class::cancelled;
  if (ec == asio::error::connection_refused) return error_class::connect_refused;
  if (ec == asio::ssl::error::stream_truncated || ec == http::error::partial_message)
    return error_class::truncated;
  if (ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe || ec == http::error::end_of_stream ||
      ec == asio::error::connection_aborted)
    return error_class::reset;
  if (ec.category() == http::make_error_code(http::error::bad_version).category())
    return error_class::malformed_response; // unparsable answer, body or header too large
  if (ec.category() == asio::error::get_ssl_category()) return error_class::reset;
  return error_class::reset;
}

void fail(http_reply& reply, error_class cls, const error_code& ec, std::string_view during) {
  reply.outcome = {cls, 0};
  reply.detail = std::string(during) + ": ";
  // Beast's words ("bad version") do not say that the server's answer was at fault.
  if (cls == error_class::malformed_response) reply.detail += "malformed HTTP answer: ";
  reply.detail += ec.message();
}

} // namespace

server_address parse_server_address(const std::string& base_url, bool verify) {
  auto url = boost::urls::parse_uri(base_url);
  if (!url) throw std::runtime_error("--base-url is not a URL: " + base_url);
  server_address server;
  std::string scheme(url->scheme());
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "https")
    server.tls = true;
  else if (scheme == "http")
    server.tls = false;
  else
    throw std::runtime_error("--base-url must be http:// or https://, not " + scheme + "://");
  if (url->has_userinfo() || url->has_query() || url->has_fragment())
    throw std::runtime_error("--base-url must not carry credentials, a query or a fragment");
  server.host = url->host_address();
  if (server.host.empty()) throw std::runtime_error("--base-url has no host");
  server.port = url->has_port() ? std::string(url->port()) : (server.tls ? "443" : "80");
  if (url->has_port()) {
    unsigned long port = 0;
    auto [end, ec] =
        std::from_chars(server.port.data(), server.port.data() + server.port.size(), port);
    if (server.port.empty() || ec != std::errc{} ||
        end != server.port.data() + server.port.size() || port < 1 || port > 65535)
      throw std::runtime_error("--base-url port must be 1 to 65535, got " + server.port);
  }
  std::string host_for_header =
      url->host_type() == boost::urls::host_type::ipv6 ? "[" + server.host + "]" : server.host;
  server.host_header = url->has_port() ? host_for_header + ":" + server.port : host_for_header;
  server.base_path = std::string(url->encoded_path());
  while (!server.base_path.empty() && server.base_path.back() == '/') server.base_path.pop_back();
  server.verify = verify;
  return server;
}

void resolve_server(asio::any_io_executor executor, server_address& server) {
  asio::ip::tcp::resolver resolver(executor);
  error_code ec;
  server.endpoints = resolver.resolve(server.host, server.port, ec);
  if (ec) throw unresolvable_host("cannot resolve " + server.host + ": " + ec.message());
}

asio::ssl::context make_client_tls_context(const std::string& ca_file, bool verify) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  ctx.set_default_verify_paths();
  if (!ca_file.empty()) {
    error_code ec;
    ctx.load_verify_file(ca_file, ec);
    if (ec) throw std::runtime_error("cannot load --cacert " + ca_file + ": " + ec.message());
  }
  ctx.set_verify_mode(verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  return ctx;
}

http_connection::http_connection(asio::any_io_executor executor, asio::ssl::context* tls,
                                 const server_address& server)
    : executor_(std::move(executor)), tls_(tls), server_(server) {}

http_connection::~http_connection() { close(); }

beast::tcp_stream& http_connection::tcp() noexcept {
  return secure_ ? secure_->next_layer() : *plain_;
}

void http_connection::close() noexcept {
  if (!open_ && !plain_ && !secure_) return;
  error_code ignored;
  if (secure_) secure_->next_layer().socket().close(ignored);
  if (plain_) plain_->socket().close(ignored);
  open_ = false;
}

asio::awaitable<bool> http_connection::connect(std::chrono::milliseconds timeout,
                                               http_reply& reply) {
  // A fresh stream object per connection: TLS state must never carry over.
  close();
  secure_.reset();
  plain_.reset();
  buffer_.clear();
  // Beast reads at most the buffer's free capacity (512 bytes when empty): room for a
  // whole answer makes one read per answer instead of three.
  buffer_.reserve(read_buffer_bytes);
  requests_on_connection_ = 0;
  if (server_.tls)
    secure_.emplace(executor_, *tls_);
  else
    plain_.emplace(executor_);

  tcp().expires_after(timeout);
  auto [ec, endpoint] = co_await tcp().async_connect(server_.endpoints, use_tuple);
  if (ec) {
    fail(reply,
         classify(ec) == error_class::connect_refused ? error_class::connect_refused
         : ec == beast::error::timeout                ? error_class::timeout
                                                      : error_class::connect_failed,
         ec, "connect");
    co_return false;
  }
  tcp().socket().set_option(asio::ip::tcp::no_delay(true), ec);

  if (secure_) {
    SSL* ssl = secure_->native_handle();
    if (!is_ip_literal(server_.host)) SSL_set_tlsext_host_name(ssl, server_.host.c_str());
    // OpenSSL's own host check (rather than a verify callback) records why a name does
    // not match (X509_V_ERR_HOSTNAME_MISMATCH), so the abort message can say so.
    if (server_.verify) {
      if (is_ip_literal(server_.host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_.host.c_str());
      } else {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(ssl, server_.host.c_str());
      }
    }
    auto [hec] = co_await secure_->async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (hec) {
      long verify = SSL_get_verify_result(ssl);
      if (server_.verify && verify != X509_V_OK) {
        reply.outcome = {error_class::tls_verify, 0};
        reply.detail = std::string("TLS certificate verification failed for ") + server_.host +
                       ": " + X509_verify_cert_error_string(verify);
      } else {
        fail(reply,
             hec == beast::error::timeout ? error_class::timeout : error_class::tls_handshake, hec,
             "TLS handshake");
      }
      close();
      co_return false;
    }
  }
  open_ = true;
  co_return true;
}

namespace {
// Allocates from a connection's header arena, falling back to the heap when it is full:
// no allocation per answer for headers that fit. Deallocation inside the arena is a no-op
// (the arena is reset between answers).
template <class T>
struct arena_allocator {
  using value_type = T;
  std::byte* storage;
  std::size_t* used;
  std::size_t capacity;

  arena_allocator(std::byte* s, std::size_t* u, std::size_t c) noexcept
      : storage(s), used(u), capacity(c) {}
  template <class U>
  arena_allocator(const arena_allocator<U>& o) noexcept
      : storage(o.storage), used(o.used), capacity(o.capacity) {}

  T* allocate(std::size_t n) {
    std::size_t bytes = n * sizeof(T);
    std::size_t at = (*used + alignof(T) - 1) & ~(alignof(T) - 1);
    if (alignof(T) <= 16 && at + bytes <= capacity) {
      *used = at + bytes;
      return reinterpret_cast<T*>(storage + at);
    }
    return static_cast<T*>(::operator new(bytes));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    auto* b = reinterpret_cast<std::byte*>(p);
    if (b >= storage && b < storage + capacity) return;
    ::operator delete(p, n * sizeof(T));
  }
  template <class U>
  bool operator==(const arena_allocator<U>& o) const noexcept {
    return storage == o.storage;
  }
};
} // namespace

template <class Stream>
asio::awaitable<bool> http_connection::send_and_read(Stream& stream, std::string_view request,
                                                     http_reply& reply) {
  auto [wec, written] = co_await asio::async_write(stream, asio::buffer(request), use_tuple);
  (void)written;
  if (wec) {
    fail(reply, classify(wec), wec, "send");
    co_return false;
  }
  reply.request_written = true;
  if (reply.body.capacity() > keep_body_capacity) std::string().swap(reply.body);
  // Interim answers (100 Continue, 103 Early Hints, any 1xx but 101) come before the
  // final one and are skipped (RFC 9110 section 15.2); a bounded number of them, within
  // the attempt's deadline. A parser cannot be reset, so each answer gets a fresh one.
  arena_.used = 0; // the previous answer's parser is gone
  arena_allocator<char> headers(arena_.storage, &arena_.used, sizeof arena_.storage);
  std::optional<http::response_parser<http::string_body, arena_allocator<char>>> parser;
  for (unsigned interim = 0;; ++interim) {
    parser.emplace(std::piecewise_construct, std::make_tuple(), std::make_tuple(headers));
    parser->header_limit(max_header_bytes);
    parser->body_limit(max_body_bytes);
    reply.body.clear();
    parser->get().body().swap(reply.body); // reuse the capacity of earlier answers
    auto [rec, read] = co_await http::async_read(stream, buffer_, *parser, use_tuple);
    (void)read;
    parser->get().body().swap(reply.body);
    if (rec) {
      fail(reply, classify(rec), rec, "read");
      co_return false;
    }
    unsigned status = parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101) break;
    if (interim >= max_interim_answers) {
      reply.outcome = {error_class::malformed_response, 0};
      reply.detail = "read: malformed HTTP answer: more than " +
                     std::to_string(max_interim_answers) + " interim (1xx) answers";
      co_return false;
    }
  }
  auto& message = parser->get();
  reply.status = static_cast<int>(message.result_int());
  if (auto it = message.find(http::field::retry_after); it != message.end())
    reply.retry_after.assign(it->value().data(), it->value().size());
  // Close when the server said so, when the body ran to the end of the stream (no length:
  // the connection is finished even if HTTP/1.1 defaults to keep-alive), or when bytes
  // follow the answer: nothing was asked for them, and taking them for the next
  // request's answer would desynchronise every later exchange on this connection.
  if (!message.keep_alive() || parser->need_eof() || buffer_.size() != 0) close();
  co_return true;
}

asio::awaitable<bool> http_connection::prepare(std::chrono::milliseconds timeout,
                                               http_reply& reply) {
  reply.outcome = {error_class::none, 0};
  reply.detail.clear();
  if (open_) co_return true;
  co_return co_await connect(timeout, reply);
}

asio::awaitable<void> http_connection::exchange(std::string_view request,
                                                std::chrono::milliseconds timeout,
                                                http_reply& reply) {
  reply.outcome = {error_class::none, 0};
  reply.detail.clear();
  reply.status = 0;
  reply.retry_after.clear();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  reply.request_written = false;
  for (int round = 0; round < 2; ++round) {
    if (!open_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      bool connected = co_await connect(left, reply);
      if (!connected) co_return;
    }
    reply.connection_reused = requests_on_connection_ > 0;
    reply.request_written = false;
    // A kept-alive connection the server closed while it was idle shows as readable (its
    // FIN or TLS close_notify, or stray bytes nobody asked for): open a fresh one before
    // sending, so that the keep-alive race stays a narrow window, not the common case.
    if (reply.connection_reused && peer_closed_or_spoke()) {
      close();
      --round; // not an attempt: nothing was sent, and the next connection is fresh
      continue;
    }
    ++requests_on_connection_;
    tcp().expires_at(deadline);
    bool ok = secure_ ? co_await send_and_read(*secure_, request, reply)
                      : co_await send_and_read(*plain_, request, reply);
    if (ok) {
      if (open_) tcp().expires_never();
      co_return;
    }
    close();
    // Only a request that was not fully written may be sent again here: once it was, the
    // server may have received it and may apply it even though it closed without an
    // answer, so the caller must treat it as in doubt (its retry rules, the settle time).
    bool resend = reply.connection_reused && !reply.request_written &&
                  reply.outcome.cls == error_class::reset &&
                  std::chrono::steady_clock::now() < deadline;
    if (!resend) co_return;
    reply.outcome = {error_class::none, 0};
    reply.detail.clear();
  }
}

bool http_connection::peer_closed_or_spoke() noexcept {
  pollfd p{};
  p.fd = tcp().socket().native_handle();
  p.events = POLLIN | POLLRDHUP;
  return ::poll(&p, 1, 0) != 0; // readable, hung up, or an error: not fit to send on
}

} // namespace jobpatch::net
