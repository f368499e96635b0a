#include "tls_test_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>
#include <stdexcept>

#include <openssl/ssl.h>

namespace jobpatch::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

struct tls_test_client::impl {
  unsigned short port;
  std::string ca_file, host;
  std::chrono::milliseconds timeout;
  asio::io_context io;
  std::optional<asio::ssl::context> tls;
  std::optional<tcp::socket> plain;
  std::optional<asio::ssl::stream<tcp::socket>> secure;
  beast::flat_buffer buffer;
  unsigned requests = 0;

  tcp::socket& socket() { return secure ? secure->next_layer() : *plain; }

  template <class F>
  void on_stream(F&& f) {
    if (secure)
      f(*secure);
    else
      f(*plain);
  }

  // Runs one asynchronous operation to completion or until `limit`; on timeout the
  // operation is cancelled and timed_out returned. `start` receives the handler.
  template <class Start>
  error_code run(Start start, std::chrono::milliseconds limit, std::size_t* transferred = nullptr) {
    std::optional<error_code> result;
    std::size_t n = 0;
    start([&](error_code ec, auto... bytes) {
      result = ec;
      ((n = bytes), ...);
    });
    io.restart();
    io.run_for(limit);
    if (!result) {
      error_code ignored;
      socket().cancel(ignored);
      io.restart();
      io.run();
      if (transferred) *transferred = n;
      return asio::error::timed_out;
    }
    if (transferred) *transferred = n;
    return *result;
  }
};

tls_test_client::tls_test_client(unsigned short port, std::string ca_file, std::string host,
                                 std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->port = port;
  impl_->ca_file = std::move(ca_file);
  impl_->host = std::move(host);
  impl_->timeout = timeout;
  if (!impl_->ca_file.empty()) {
    impl_->tls.emplace(asio::ssl::context::tls_client);
    impl_->tls->load_verify_file(impl_->ca_file);
    impl_->tls->set_verify_mode(asio::ssl::verify_peer);
  }
}

tls_test_client::~tls_test_client() { close(); }

bool tls_test_client::is_open() const { return impl_->plain || impl_->secure; }

unsigned tls_test_client::requests_on_connection() const { return impl_->requests; }

void tls_test_client::close() {
  error_code ignored;
  if (impl_->secure) impl_->secure->next_layer().close(ignored);
  if (impl_->plain) impl_->plain->close(ignored);
  impl_->secure.reset();
  impl_->plain.reset();
  impl_->buffer.clear();
  impl_->requests = 0;
}

void tls_test_client::connect() {
  close();
  impl& s = *impl_;
  tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), s.port);
  if (s.tls)
    s.secure.emplace(s.io, *s.tls);
  else
    s.plain.emplace(s.io);
  error_code ec =
      s.run([&](auto handler) { s.socket().async_connect(endpoint, handler); }, s.timeout);
  if (ec) {
    close();
    throw std::runtime_error("connect: " + ec.message());
  }
  if (s.secure) {
    if (s.host != "127.0.0.1") SSL_set_tlsext_host_name(s.secure->native_handle(), s.host.c_str());
    s.secure->set_verify_callback(asio::ssl::host_name_verification(s.host));
    ec = s.run(
        [&](auto handler) { s.secure->async_handshake(asio::ssl::stream_base::client, handler); },
        s.timeout);
    if (ec) {
      close();
      throw std::runtime_error("TLS handshake: " + ec.message());
    }
  }
}

bool tls_test_client::send_raw(std::string_view bytes) {
  if (!is_open()) connect();
  impl& s = *impl_;
  error_code ec = s.run(
      [&](auto handler) {
        s.on_stream([&](auto& stream) { asio::async_write(stream, asio::buffer(bytes), handler); });
      },
      s.timeout);
  return !ec;
}

http_answer tls_test_client::read_answer() {
  http_answer answer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 << 20);
  impl& s = *impl_;
  error_code ec = s.run(
      [&](auto handler) {
        s.on_stream([&](auto& stream) { http::async_read(stream, s.buffer, parser, handler); });
      },
      s.timeout);
  auto& message = parser.get();
  answer.body = message.body();
  if (ec) {
    answer.error = ec.message();
    close();
    return answer;
  }
  answer.status = static_cast<int>(message.result_int());
  if (auto it = message.find(http::field::retry_after); it != message.end())
    answer.retry_after = std::string(it->value());
  if (auto it = message.find(http::field::connection); it != message.end())
    answer.connection = std::string(it->value());
  if (!message.keep_alive()) close();
  return answer;
}

http_answer tls_test_client::request(std::string_view method, std::string_view target,
                                     std::string_view body, std::string_view authorization) {
  if (!is_open()) {
    try {
      connect();
    } catch (const std::exception& e) {
      http_answer failed;
      failed.error = e.what();
      return failed;
    }
  }
  http::request<http::string_body> message(http::string_to_verb(method), target, 11);
  message.set(http::field::host, impl_->host + ":" + std::to_string(impl_->port));
  message.set(http::field::accept, "*/*");
  if (!authorization.empty()) message.set(http::field::authorization, authorization);
  if (!body.empty() || method == "PATCH" || method == "POST") {
    message.set(http::field::content_type, "application/json");
    message.body() = std::string(body);
    message.prepare_payload();
  }
  ++impl_->requests;
  impl& s = *impl_;
  error_code ec = s.run(
      [&](auto handler) {
        s.on_stream([&](auto& stream) { http::async_write(stream, message, handler); });
      },
      s.timeout);
  if (ec) {
    http_answer failed;
    failed.error = "write: " + ec.message();
    close();
    return failed;
  }
  return read_answer();
}

bool tls_test_client::peer_closed(std::chrono::milliseconds wait) {
  if (!is_open()) return true;
  impl& s = *impl_;
  char byte;
  std::size_t n = 0;
  error_code ec = s.run(
      [&](auto handler) {
        s.on_stream([&](auto& stream) { stream.async_read_some(asio::buffer(&byte, 1), handler); });
      },
      wait, &n);
  if (ec == asio::error::timed_out) return false; // still open, and silent
  if (ec || n == 0) {
    close();
    return true;
  }
  return false; // it sent something
}

} // namespace jobpatch::test
