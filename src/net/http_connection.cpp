#include "net/http_connection.hpp"

#include <jobpatch/wire/answer_rules.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/url/parse.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <utility>

#ifndef JOBPATCH_VERSION
#define JOBPATCH_VERSION "unknown" // a fuzz target compiles this file on its own
#endif

namespace jobpatch::net {

namespace http = beast::http;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr answer_limits limits{http_connection::max_header_bytes, http_connection::max_body_bytes};

// The read loop's own verdict: the part of an answer (its value) reached its limit.
// Boost.System's categories have a protected non-virtual destructor; its own derived
// categories silence the same warning.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class answer_limit_category final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "jobpatch.answer"; }
  std::string message(int /*part*/) const override { return "answer too large"; }
};
#pragma GCC diagnostic pop

const boost::system::error_category& answer_limit_errors() noexcept {
  static const answer_limit_category category;
  return category;
}

error_code too_large(answer_part part) noexcept {
  return {static_cast<int>(part), answer_limit_errors()};
}

// The part over its limit, by our read loop's count or Beast's; none for other errors.
answer_part oversized_part(const error_code& ec) noexcept {
  if (ec.category() == answer_limit_errors()) return static_cast<answer_part>(ec.value());
  if (ec == http::error::header_limit) return answer_part::head;
  if (ec == http::error::body_limit) return answer_part::body;
  return answer_part::none;
}

// Bytes a server sent first that begin a TLS record: a handshake (0x16) or an alert (0x15)
// of version 3.x (SSL 3.0 to TLS 1.3).
bool looks_like_tls(std::string_view bytes) {
  return bytes.size() >= 2 && (bytes[0] == '\x16' || bytes[0] == '\x15') && bytes[1] == '\x03';
}

// A scheme in --base-url that the server does not speak: no retry mends it, so it is a
// tls_verify failure (the run stops at once, exit 3), and the request, if written, was
// not taken for one.
void wrong_scheme(http_reply& reply, bool server_speaks_tls) {
  reply.outcome = {error_class::tls_verify, 0};
  reply.detail = server_speaks_tls ? "the server speaks TLS: use https:// in --base-url"
                                   : "the server speaks plain HTTP: use http:// in --base-url";
  reply.request_written = false;
}

// What to do about a certificate that did not verify (OpenSSL's X509_V_ERR_*), after its
// reason; empty when the reason says it all.
std::string_view verify_hint(long verify) {
  switch (verify) {
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    return ": pass --cacert FILE with the certificate of the CA that issued it (for a "
           "self-signed server, its own certificate)";
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    return ": it was issued for another name; check the host in --base-url";
  default:
    return "";
  }
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Sorts a transport error into the classes retries and fail-fast decide on.
error_class classify(const error_code& ec) {
  if (ec == beast::error::timeout) return error_class::timeout;
  if (ec == asio::error::operation_aborted) return error_class::cancelled;
  if (ec == asio::error::connection_refused) return error_class::connect_refused;
  if (ec == asio::ssl::error::stream_truncated || ec == http::error::partial_message)
    return error_class::truncated;
  if (ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe || ec == http::error::end_of_stream ||
      ec == asio::error::connection_aborted)
    return error_class::reset;
  // An answer over its limits is judged as an unparsable one: retried (on a new
  // connection), and in doubt once the request was written.
  if (ec.category() == http::make_error_code(http::error::bad_version).category() ||
      ec.category() == answer_limit_errors())
    return error_class::malformed_response; // unparsable answer, a part of it too large
  return error_class::reset;                // and any other TLS or socket error
}

// What a TLS alert from the server says about our client certificate, or "" when it is
// about something else. With TLS 1.3 the server judges the certificate after the client's
// handshake has finished, so the alert comes with the first read.
std::string client_certificate_problem(const error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return {};
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
  case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    return "the server requires a client certificate (TLS alert: certificate required): "
           "pass --cert and --key";
  case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
  case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
  case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
  case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    return "the server refused the client certificate (TLS alert: " + ec.message() +
           "): check --cert and --key, and that the server trusts their CA";
  default:
    return {};
  }
}

void fail(http_reply& reply, error_class cls, const error_code& ec, std::string_view during) {
  if (std::string problem = client_certificate_problem(ec); !problem.empty()) {
    // Not retried: the same certificate meets the same refusal (exit 3).
    reply.outcome = {error_class::tls_verify, 0};
    reply.detail = std::move(problem);
    return;
  }
  reply.outcome = {cls, 0};
  reply.detail = std::string(during) + ": ";
  if (answer_part part = oversized_part(ec); part != answer_part::none) {
    reply.detail += "answer too large: ";
    append_too_large(reply.detail, part, limits);
    return;
  }
  // Beast's words ("bad version") do not say that the server's answer was at fault.
  if (cls == error_class::malformed_response) reply.detail += "malformed HTTP answer: ";
  reply.detail += ec.message();
}

} // namespace

server_address parse_server_address(const std::string& base_url, bool verify,
                                    const proxy_settings& proxy) {
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
  server.proxy = select_proxy(proxy, server.tls, server.host, server.port);
  return server;
}

void resolve_server(const asio::any_io_executor& executor, server_address& server) {
  asio::ip::tcp::resolver resolver(executor);
  error_code ec;
  if (server.proxy) {
    // The proxy resolves the server's name: only the proxy's must resolve here.
    server.endpoints = resolver.resolve(server.proxy->host, server.proxy->port, ec);
    if (ec)
      throw unresolvable_host("cannot resolve the proxy " + server.proxy->display() + ": " +
                              ec.message());
    return;
  }
  server.endpoints = resolver.resolve(server.host, server.port, ec);
  if (ec) throw unresolvable_host("cannot resolve " + server.host + ": " + ec.message());
}

namespace {

// OpenSSL asks this for an encrypted key's passphrase. Without it OpenSSL would prompt
// on the terminal and block an unattended run; it answers with --key-password-file's
// content, or fails.
int key_password(char* buffer, int size, int /*rwflag*/, void* user) {
  const auto* password = static_cast<const std::string*>(user);
  if (!password || password->empty() || password->size() > static_cast<std::size_t>(size))
    return -1;
  password->copy(buffer, password->size()); // OpenSSL takes the length, not a NUL
  return static_cast<int>(password->size());
}

std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (!e) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "error " + std::to_string(e);
}

bool looks_encrypted(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::string head(64 << 10, '\0');
  head.resize(std::fread(head.data(), 1, head.size(), f));
  std::fclose(f);
  return head.find("ENCRYPTED") != std::string::npos; // PKCS#8 or the old Proc-Type
}

void load_client_certificate(SSL_CTX* ctx, const network_options& network) {
  const std::string& cert = network.cert_file;
  const std::string& key = network.key_file.empty() ? cert : network.key_file;
  std::string key_flag = network.key_file.empty() ? "--cert " : "--key ";
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
    throw std::runtime_error("cannot load the client certificate --cert " + cert + ": " +
                             openssl_reason());
  SSL_CTX_set_default_passwd_cb(ctx, key_password);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&network.key_password));
  int loaded = SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM);
  // The password is not kept: the callback stays, and fails, for anything loaded later.
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (loaded != 1) {
    // OpenSSL compares the key with the certificate as it loads it.
    bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    std::string reason = openssl_reason();
    if (mismatch)
      throw std::runtime_error("the private key " + key_flag + key +
                               " does not belong to the certificate --cert " + cert);
    if (looks_encrypted(key) && network.key_password.empty())
      throw std::runtime_error("the private key " + key_flag + key +
                               " is encrypted: put its passphrase in a file and pass "
                               "--key-password-file (it is never asked on the terminal)");
    if (looks_encrypted(key))
      throw std::runtime_error("cannot decrypt the private key " + key_flag + key +
                               " with the passphrase of --key-password-file: " + reason);
    throw std::runtime_error("cannot load the private key " + key_flag + key + ": " + reason);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    throw std::runtime_error("the private key " + key_flag + key +
                             " does not belong to the certificate --cert " + cert);
  }
}

} // namespace

asio::ssl::context make_client_tls_context(const std::string& ca_file, bool verify,
                                           const network_options& network, bool system_store) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  if (system_store) ctx.set_default_verify_paths();
  if (!ca_file.empty()) {
    error_code ec;
    ctx.load_verify_file(ca_file, ec);
    if (ec) throw std::runtime_error("cannot load --cacert " + ca_file + ": " + ec.message());
  }
  ctx.set_verify_mode(verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
  if (!network.cert_file.empty())
    load_client_certificate(ctx.native_handle(), network);
  else if (!network.key_file.empty())
    throw std::runtime_error("--key needs --cert (the certificate it belongs to)");
  return ctx;
}

void check_connection_settings(const std::string& base_url, const std::string& ca_file, bool verify,
                               const network_options& network) {
  (void)parse_server_address(base_url, verify, network.proxy);
  (void)make_client_tls_context(ca_file, verify, network, false);
}

http_connection::http_connection(asio::any_io_executor executor, asio::ssl::context* tls,
                                 const server_address& server)
    : executor_(std::move(executor)), tls_(tls), server_(server), socket_(executor_),
      watch_owner_(std::make_shared<watch_owner>(watch_owner{this})), watchdog_(executor_) {}

http_connection::~http_connection() {
  watch_owner_->connection = nullptr; // a handler still queued must not come back here
  close();
}

void http_connection::ssl_free::operator()(SSL* ssl) const noexcept { SSL_free(ssl); }

void http_connection::close() noexcept {
  error_code ignored;
  open_ = false;
  if (sends_through_ring && socket_busy_) {
    // The kernel ends the operation (the end of the stream, a reset, a refused send, an
    // aborted connect): whoever awaited it closes the socket then, and timed() reports
    // what ended it (see socket_busy_).
    if (!timed_out_) aborted_ = true;
    ::shutdown(socket_.native_handle(), SHUT_RDWR);
    return;
  }
  socket_.close(ignored); // pending waits end with operation_aborted
}

// --- the watchdog ---------------------------------------------------------------------

void http_connection::watch(std::chrono::steady_clock::time_point deadline) {
  deadline_ = deadline;
  watching_ = true;
  timed_out_ = false;
  // A timer already set to fire no later re-arms itself from deadline_ when it fires.
  if (armed_ && watchdog_.expiry() <= deadline) return;
  arm_watchdog();
}

void http_connection::arm_watchdog() {
  armed_ = true;
  watchdog_.expires_at(deadline_); // a wait for a later time ends as a stale generation
  watchdog_.async_wait(
      [owner = watch_owner_, generation = ++watch_generation_](const error_code& ec) {
        if (!ec && owner->connection) owner->connection->on_watchdog(generation);
      });
}

void http_connection::on_watchdog(std::uint64_t generation) {
  if (generation != watch_generation_) return; // re-armed since
  armed_ = false;
  if (!watching_) return; // idle: the next watch() arms it again
  if (std::chrono::steady_clock::now() < deadline_) {
    arm_watchdog(); // the deadline moved on since the timer was set
    return;
  }
  timed_out_ = true;
  close();
}

error_code http_connection::timed(const error_code& ec) const {
  // On the ring a shut-down socket's operation may still end well (bytes read before the
  // shutdown): the deadline or the caller ended the exchange all the same.
  if (timed_out_ && (ec || sends_through_ring)) return beast::error::timeout;
  if (aborted_) return asio::error::operation_aborted;
  return ec;
}

// --- the transport --------------------------------------------------------------------

namespace {

// A write of what the socket takes now, never blocking, never raising SIGPIPE; -1 with
// errno on failure, which would_block() tells from a real error.
ssize_t send_now(int fd, const char* data, std::size_t size) {
  return ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
}

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

int clamp_size(std::size_t n) {
  return static_cast<int>(std::min<std::size_t>(n, std::numeric_limits<int>::max()));
}

// Sorts the result of an OpenSSL call on the socket: done (an error in `ec`, or none), or
// the readiness to wait for before calling again. The error codes are the ones Asio's
// ssl::stream gives, so that classify() and the messages stay the same: a TCP close
// without close_notify is stream_truncated, a close_notify is eof, TLS failures carry
// OpenSSL's packed error in the SSL category.
io_wait tls_result(SSL* ssl, int result, int saved_errno, error_code& ec) {
  ec = {};
  if (result > 0) return io_wait::none;
  switch (SSL_get_error(ssl, result)) {
  case SSL_ERROR_WANT_READ:
    return io_wait::read;
  case SSL_ERROR_WANT_WRITE:
    return io_wait::write;
  case SSL_ERROR_ZERO_RETURN:
    ec = asio::error::eof;
    break;
  case SSL_ERROR_SYSCALL: {
    unsigned long e = ERR_peek_error();
    if (e != 0 && ERR_GET_LIB(e) != ERR_LIB_SYS)
      ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
    else if (saved_errno != 0)
      ec = error_code(saved_errno, boost::system::system_category());
    else if (e != 0)
      ec = error_code(ERR_GET_REASON(e), boost::system::system_category());
    else
      ec = asio::ssl::error::stream_truncated;
    break;
  }
  case SSL_ERROR_SSL: {
    unsigned long e = ERR_peek_error();
    if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
      ec = asio::ssl::error::stream_truncated;
    else
      ec = error_code(static_cast<int>(e), asio::error::get_ssl_category());
    break;
  }
  default:
    ec = asio::ssl::error::unexpected_result;
  }
  ERR_clear_error();
  return io_wait::none;
}

// Runs one OpenSSL call with the thread's error queue empty, as SSL_get_error requires.
template <class Call>
io_wait tls_call(SSL* ssl, Call call, int& result, error_code& ec) {
  ERR_clear_error();
  errno = 0;
  result = call();
  int saved_errno = errno;
  return tls_result(ssl, result, saved_errno, ec);
}

// The BIO between OpenSSL and the connection: reads come from the bytes Asio last read
// from the socket (http_connection::fill), writes go straight to the socket. The memory
// BIO pair of Asio's ssl::stream costs a copy and an engine step more each way; reading
// the socket ourselves (SSL_set_fd) would cost an epoll_ctl per answer, where Asio's
// reactor waits for a read it knows would block without any system call.
int transport_read(BIO* bio, char* out, int size) {
  auto* t = static_cast<tls_transport*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (t->size == 0) {
    if (t->eof) return 0;
    BIO_set_retry_read(bio);
    return -1;
  }
  std::size_t n = std::min(t->size, static_cast<std::size_t>(size));
  std::memcpy(out, t->data, n);
  t->data += n;
  t->size -= n;
  return static_cast<int>(n);
}

int transport_write(BIO* bio, const char* data, int size) {
  auto* t = static_cast<tls_transport*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (t->queue) {
    t->queue->append(data, static_cast<std::size_t>(size));
    return size;
  }
  ssize_t n = send_now(t->fd, data, static_cast<std::size_t>(size));
  if (n >= 0) return static_cast<int>(n);
  if (would_block()) BIO_set_retry_write(bio);
  return -1;
}

long transport_ctrl(BIO* bio, int command, long /*number*/, void* /*pointer*/) {
  auto* t = static_cast<tls_transport*>(BIO_get_data(bio));
  switch (command) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_PENDING:
    return static_cast<long>(t->size);
  case BIO_CTRL_EOF: // OpenSSL tells a cut stream from a close_notify by this
    return t->eof && t->size == 0 ? 1 : 0;
  default:
    return 0;
  }
}

int transport_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// Immutable and made once: the table of the callbacks above.
BIO_METHOD* transport_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "jobpatch socket");
    if (m) {
      BIO_meth_set_read(m, transport_read);
      BIO_meth_set_write(m, transport_write);
      BIO_meth_set_ctrl(m, transport_ctrl);
      BIO_meth_set_create(m, transport_create);
    }
    return m;
  }();
  return method;
}

} // namespace

// Bytes Asio read from the socket into raw_ become the BIO's input. The end of the stream
// is OpenSSL's to judge: after a close_notify, or a stream cut short.
error_code http_connection::took_raw(const error_code& ec, std::size_t n) {
  if (ec == asio::error::eof) {
    transport_.eof = true;
    return {};
  }
  if (ec) return timed(ec);
  transport_.data = raw_.get();
  transport_.size = n;
  return {};
}

asio::awaitable<error_code> http_connection::fill(bool to_write) {
  socket_busy_ = true;
  if (to_write) {
    auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_write, use_tuple);
    socket_busy_ = false;
    co_return timed(ec);
  }
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(raw_.get(), raw_bytes), use_tuple);
  socket_busy_ = false;
  co_return took_raw(ec, n);
}

asio::awaitable<error_code> http_connection::handshake() {
  SSL* ssl = ssl_.get();
  for (;;) {
    int result = 0;
    error_code ec;
    io_wait next = tls_call(
        ssl, [ssl] { return SSL_connect(ssl); }, result, ec);
    if (next == io_wait::none) co_return timed(ec);
    error_code fec = co_await fill(next == io_wait::write);
    if (fec) co_return fec;
    if (next == io_wait::write) continue;
    // The server's first bytes, kept to name a server that does not speak TLS at all.
    std::size_t take = std::min(handshake_bytes_.size() - handshake_bytes_size_, transport_.size);
    std::copy_n(transport_.data, take, handshake_bytes_.data() + handshake_bytes_size_);
    handshake_bytes_size_ += take;
  }
}

io_wait http_connection::write_now(std::string_view& data, error_code& ec) {
  ec = {};
  while (!data.empty()) {
    int result = 0;
    io_wait next = io_wait::none;
    if (ssl_) {
      SSL* ssl = ssl_.get();
      next = tls_call(
          ssl, [&] { return SSL_write(ssl, data.data(), clamp_size(data.size())); }, result, ec);
    } else {
      ssize_t n = send_now(socket_.native_handle(), data.data(), data.size());
      if (n < 0 && would_block())
        next = io_wait::write;
      else if (n < 0)
        ec = error_code(errno, boost::system::system_category());
      result = static_cast<int>(n);
    }
    if (next != io_wait::none) return next;
    if (ec) break;
    data.remove_prefix(static_cast<std::size_t>(result)); // partial writes are enabled
  }
  ec = timed(ec);
  return io_wait::none;
}

asio::awaitable<error_code> http_connection::write_all(std::string_view data) {
  error_code ec;
  for (io_wait next = write_now(data, ec); next != io_wait::none; next = write_now(data, ec)) {
    ec = co_await fill(next == io_wait::write);
    if (ec) break;
  }
  co_return ec;
}

// What Beast's http::async_read does: parse what is buffered, read more while the parser
// needs more, and turn the end of the stream into end_of_stream (nothing came) or the
// parser's verdict on a message that ends there. The common waits are awaited here, not
// in nested coroutines: each level costs a frame and two resumptions per request.
// Bytes the parser left in the buffer wait for the rest of the part they begin (a header
// line, a chunk-size line, the trailer section): the answer's budget bounds them, so the
// buffer never grows past the limit (answer_rules.hpp).
// Its cognitive complexity (42) is over the ceiling: each branch is one way a TLS read
// can end, handled where it is awaited.
template <class Parser>
// NOLINTNEXTLINE(readability-function-cognitive-complexity)
asio::awaitable<error_code> http_connection::read_message(Parser& parser) {
  answer_budget budget(limits);
  while (!parser.is_done()) {
    if (buffer_.size() != 0) {
      error_code ec;
      std::size_t used = parser.put(buffer_.data(), ec);
      buffer_.consume(used);
      budget.took(used, parser.is_header_done());
      if (ec != http::error::need_more) {
        if (ec) co_return ec;
        continue;
      }
    }
    std::string_view waiting(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    bool head_done = parser.is_header_done();
    if (answer_part part = budget.over(waiting, head_done); part != answer_part::none)
      co_return too_large(part);
    // Beast's read size: the buffer's free room, at least 512 bytes, at most 64 KiB; and
    // no more than the part being read may still take.
    std::size_t room =
        std::min<std::size_t>({std::max<std::size_t>(512, buffer_.capacity() - buffer_.size()),
                               buffer_.max_size() - buffer_.size(), std::size_t{64} << 10,
                               budget.room(waiting.size(), head_done)});
    if (room == 0) co_return http::error::buffer_overflow;
    auto into = buffer_.prepare(room);
    error_code ec;
    std::size_t n = 0;
    if (!ssl_) {
      socket_busy_ = true;
      auto [rec, k] = co_await socket_.async_read_some(into, use_tuple);
      socket_busy_ = false;
      ec = timed(rec);
      n = k;
    } else {
      SSL* ssl = ssl_.get();
      int result = 0;
      io_wait next = tls_call(
          ssl, [&] { return SSL_read(ssl, into.data(), clamp_size(into.size())); }, result, ec);
      if (next == io_wait::read) {
        socket_busy_ = true;
        auto [rec, k] =
            co_await socket_.async_read_some(asio::buffer(raw_.get(), raw_bytes), use_tuple);
        socket_busy_ = false;
        ec = took_raw(rec, k);
        if (ec) co_return ec;
        continue;
      }
      if (next == io_wait::write) {
        ec = co_await fill(true);
        if (ec) co_return ec;
        continue;
      }
      ec = timed(ec);
      n = ec ? 0 : static_cast<std::size_t>(result);
    }
    if (ec == asio::error::eof) {
      if (!parser.got_some()) co_return http::error::end_of_stream;
      parser.put_eof(ec);
      if (ec) co_return ec;
      continue;
    }
    if (ec) co_return ec;
    buffer_.commit(n);
  }
  co_return error_code{};
}

asio::awaitable<bool> http_connection::connect(std::chrono::milliseconds timeout,
                                               http_reply& reply) {
  // A fresh socket and TLS state per connection: nothing may carry over.
  close();
  ssl_.reset();
  buffer_.clear();
  shrink_read_buffer();
  requests_on_connection_ = 0;
  socket_ = asio::ip::tcp::socket(executor_);
  aborted_ = false;
  watch(std::chrono::steady_clock::now() + timeout);
  bool connected = co_await establish(reply);
  unwatch();
  if (!connected) close();
  open_ = connected;
  co_return connected;
}

asio::awaitable<bool> http_connection::establish(http_reply& reply) {
  bool reached = co_await reach(reply);
  if (!reached) co_return false;
  if (!server_.tls) co_return true;
  bool secured = co_await secure(reply);
  co_return secured;
}

asio::awaitable<bool> http_connection::reach(http_reply& reply) {
  socket_busy_ = true;
  auto [cec, endpoint] = co_await asio::async_connect(socket_, server_.endpoints, use_tuple);
  socket_busy_ = false;
  (void)endpoint;
  error_code ec = timed(cec);
  if (ec) {
    fail(reply,
         classify(ec) == error_class::connect_refused ? error_class::connect_refused
         : ec == beast::error::timeout                ? error_class::timeout
                                                      : error_class::connect_failed,
         ec, server_.proxy ? "connect to the proxy " + server_.proxy->display() : "connect");
    co_return false;
  }
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (server_.proxy) {
    bool tunnel = co_await open_tunnel(reply);
    if (!tunnel) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> http_connection::secure(http_reply& reply) {
  ssl_.reset(SSL_new(tls_->native_handle()));
  handshake_bytes_size_ = 0;
  SSL* ssl = ssl_.get();
  transport_ = {socket_.native_handle(), nullptr, 0, false};
  if (!raw_) raw_ = std::make_unique<char[]>(raw_bytes);
  BIO* bio = ssl && transport_method() ? BIO_new(transport_method()) : nullptr;
  if (!bio) {
    reply.outcome = {error_class::tls_handshake, 0};
    reply.detail = "TLS handshake: cannot set up TLS: " + openssl_reason();
    co_return false;
  }
  BIO_set_data(bio, &transport_);
  SSL_set_bio(ssl, bio, bio); // one reference, owned by the SSL
  // Whole records per BIO read; a connection keeps its record buffers between requests
  // (releasing them costs ~7 heap allocations per request).
  SSL_set_read_ahead(ssl, 1);
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
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
  error_code hec = co_await handshake();
  if (hec) {
    long verify = SSL_get_verify_result(ssl);
    std::string_view first(handshake_bytes_.data(), handshake_bytes_size_);
    if (first.starts_with("HTTP/")) {
      wrong_scheme(reply, false); // a plain HTTP server's answer to our hello
    } else if (server_.verify && verify != X509_V_OK) {
      reply.outcome = {error_class::tls_verify, 0};
      reply.detail = std::string("TLS certificate verification failed for ") + server_.host + ": " +
                     X509_verify_cert_error_string(verify);
      reply.detail += verify_hint(verify);
    } else {
      fail(reply, hec == beast::error::timeout ? error_class::timeout : error_class::tls_handshake,
           hec, "TLS handshake");
    }
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> http_connection::speaks_tls(std::chrono::milliseconds timeout) {
  http_reply scratch; // how the hello fares is not the attempt's failure
  close();
  ssl_.reset();
  buffer_.clear();
  socket_ = asio::ip::tcp::socket(executor_);
  aborted_ = false;
  handshake_bytes_size_ = 0;
  watch(std::chrono::steady_clock::now() + timeout);
  bool reached = co_await reach(scratch);
  if (reached) {
    bool secured = co_await secure(scratch); // or not: its first bytes are the answer
    (void)secured;
  }
  unwatch();
  close();
  ssl_.reset();
  co_return looks_like_tls({handshake_bytes_.data(), handshake_bytes_size_});
}

asio::awaitable<bool> http_connection::open_tunnel(http_reply& reply) {
  const proxy_endpoint& proxy = *server_.proxy;
  std::string target = authority_of(server_.host, server_.port);
  // Messages name the proxy, never its credentials, so that a refusal is not blamed on
  // the API.
  std::string where = "proxy " + proxy.display() + " (CONNECT " + target + ")";
  std::string request =
      connect_request(proxy, server_.host, server_.port, "jobpatch/" JOBPATCH_VERSION);
  error_code wec = co_await write_all(request);
  if (wec) {
    fail(reply, wec == beast::error::timeout ? error_class::timeout : error_class::connect_failed,
         wec, where);
    co_return false;
  }
  // The answer to CONNECT has no body whatever its headers say (RFC 9110 9.3.6); a
  // refusal's body is not needed either: the connection is closed after it.
  http::response_parser<http::empty_body> parser;
  parser.skip(true);
  parser.header_limit(max_header_bytes);
  error_code rec = co_await read_message(parser);
  if (rec) {
    fail(reply, rec == beast::error::timeout ? error_class::timeout : error_class::connect_failed,
         rec, where + " closed or broke the connection before answering");
    co_return false;
  }
  unsigned status = parser.get().result_int();
  if (status == 407 || status == 401) {
    // Not retried: the same credentials will be refused again (exit 3). tinyproxy 1.11
    // answers a CONNECT with bad or missing credentials 401, not 407.
    reply.outcome = {error_class::auth_failed, 0};
    reply.detail =
        "proxy authentication required at " + proxy.display() +
        (proxy.authorization.empty() ? ": the proxy URL carries no user:password@"
                                     : ": check the credentials in --proxy/HTTPS_PROXY/HTTP_PROXY");
    co_return false;
  }
  if (status < 200 || status >= 300) {
    // A refusal (403), a proxy that cannot reach the server (502, 504)...: a connection
    // failure, retried and counted by fail-fast like one.
    reply.outcome = {error_class::connect_failed, 0};
    // Whole (within the header budget): the judgement scrubs it before it cuts it.
    std::string reason(parser.get().reason());
    reply.detail = where + " refused the tunnel: HTTP " + std::to_string(status) +
                   (reason.empty() ? "" : " " + reason);
    co_return false;
  }
  if (buffer_.size() != 0) {
    // Nothing may come before the server speaks (or before our TLS hello): bytes here
    // would be taken for the server's.
    reply.outcome = {error_class::connect_failed, 0};
    reply.detail = where + " sent bytes after its answer to CONNECT";
    co_return false;
  }
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
  void deallocate(T* p, std::size_t) noexcept {
    auto* b = reinterpret_cast<std::byte*>(p);
    if (b >= storage && b < storage + capacity) return;
    ::operator delete(p); // unsized: clang declares the sized form only with -fsized-deallocation
  }
  template <class U>
  bool operator==(const arena_allocator<U>& o) const noexcept {
    return storage == o.storage;
  }
};
} // namespace

std::string_view http_connection::queue_request(std::string_view& rest, error_code& ec) {
  ec = {};
  if (!ssl_) return std::exchange(rest, {});
  out_.clear();
  transport_.queue = &out_;
  (void)write_now(rest, ec); // the BIO takes every record, so it waits for nothing to write
  transport_.queue = nullptr;
  return out_;
}

asio::awaitable<bool> http_connection::send_and_read(std::string_view request, http_reply& reply) {
  std::string_view rest = request;
  error_code wec;
  if constexpr (sends_through_ring) {
    // One send operation of the ring, submitted with the other connections' operations.
    // Its completion says the whole request reached the socket, as send() returning did.
    for (std::string_view out = queue_request(rest, wec); !wec && !out.empty();) {
      socket_busy_ = true;
      auto [ec, n] = co_await socket_.async_send(asio::buffer(out.data(), out.size()), MSG_NOSIGNAL,
                                                 use_tuple);
      socket_busy_ = false;
      wec = timed(ec);
      out.remove_prefix(n);
    }
  }
  if (!wec && write_now(rest, wec) != io_wait::none) wec = co_await write_all(rest); // rarely
  if (wec) {
    fail(reply, classify(wec), wec, "send");
    co_return false;
  }
  reply.request_written = true;
  release_grown_buffers(reply);
  // The other connections' ready work runs before the first read: Asio's epoll reactor
  // tries every read at once (a recvfrom), and one made right after the send finds
  // nothing and costs a system call for it; by the time the queue comes round, the answer
  // has mostly arrived. A handler dispatch, no system call; with nothing else ready it
  // comes straight back. The ring tries no read before its completion: nothing to wait for.
  if constexpr (!sends_through_ring)
    co_await asio::post(socket_.get_executor(), asio::use_awaitable);
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
    error_code rec = co_await read_message(*parser);
    parser->get().body().swap(reply.body);
    // Slack past the end lets the JSON parser read the answer in place (it reads up to 64
    // bytes beyond): grown once, the next answers of that size find it already there.
    if (reply.body.capacity() < reply.body.size() + body_slack_bytes)
      reply.body.reserve(reply.body.size() + body_slack_bytes);
    if (rec) {
      reply.answer_started = interim > 0 || parser->got_some() || buffer_.size() != 0;
      fail(reply, classify(rec), rec, "read");
      // A TLS server's alert (or hello) where a plain HTTP answer belongs.
      if (!ssl_ && interim == 0 &&
          looks_like_tls({static_cast<const char*>(buffer_.data().data()), buffer_.size()}))
        wrong_scheme(reply, true);
      // The connection is closed after a failed read: what it buffered goes, and buffers
      // an answer over its limits grew shrink back now, not at the next exchange.
      buffer_.clear();
      release_grown_buffers(reply);
      co_return false;
    }
    if (judge_status_line(parser->get().result_int(), parser->get().version()) !=
        status_line::interim)
      break;
    if (interim >= max_interim_answers) {
      reply.outcome = {error_class::malformed_response, 0};
      reply.detail = "read: malformed HTTP answer: more than " +
                     std::to_string(max_interim_answers) + " interim (1xx) answers";
      co_return false;
    }
  }
  co_return take_answer(parser->get(), parser->need_eof(), reply);
}

template <class Message>
bool http_connection::take_answer(const Message& message, bool need_eof, http_reply& reply) {
  status_line kind = judge_status_line(message.result_int(), message.version());
  if (kind == status_line::unusable) {
    // No answer to the request (101 Switching Protocols...): the caller closes the
    // connection, and the request, written, is in doubt.
    reply.answer_started = true;
    reply.outcome = {error_class::malformed_response, 0};
    reply.detail = "read: malformed HTTP answer: ";
    append_unusable_status(reply.detail, message.result_int(), message.version());
    return false;
  }
  reply.status = static_cast<int>(message.result_int());
  if (auto it = message.find(http::field::retry_after); it != message.end())
    reply.retry_after.assign(it->value().data(), it->value().size());
  // Close when the server said so, when the body ran to the end of the stream (no length:
  // the connection is finished even if HTTP/1.1 defaults to keep-alive), or when bytes
  // follow the answer: nothing was asked for them, and taking them for the next
  // request's answer would desynchronise every later exchange on this connection.
  // An HTTP/1.0 answer is used, its connection not kept (only HTTP/1.1 ones are).
  if (!message.keep_alive() || need_eof || buffer_.size() != 0 || kind != status_line::final)
    close();
  return true;
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
  reply.request_written = reply.answer_started = false;
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
    if (reply.connection_reused && peer_closed_or_spoke(std::chrono::steady_clock::now())) {
      close();
      --round; // not an attempt: nothing was sent, and the next connection is fresh
      continue;
    }
    ++requests_on_connection_;
    watch(deadline);
    bool ok = co_await send_and_read(request, reply);
    unwatch();
    if (ok) {
      last_answer_ = std::chrono::steady_clock::now();
      if (reply.connection_reused) reuse_deaths_in_a_row_ = 0;
      if (open_ && !reuse_) close(); // this server drops kept-alive connections
      co_return;
    }
    close();
    // A plain request on a fresh connection closed without a byte of answer: what an
    // OpenSSL server does with one. Asking the server in TLS tells it from a server that
    // just dropped the connection (once per connection, a few seconds at most).
    bool unanswered =
        reply.request_written && !reply.answer_started &&
        (reply.outcome.cls == error_class::reset || reply.outcome.cls == error_class::truncated);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!server_.tls && tls_ && !reply.connection_reused && unanswered && !probed_ &&
        left > std::chrono::milliseconds(0)) {
      probed_ = true;
      bool tls = co_await speaks_tls(std::min<std::chrono::milliseconds>(left, probe_timeout));
      if (tls) {
        wrong_scheme(reply, true);
        co_return;
      }
    }
    // A kept-alive connection that took the request and died without a byte of answer
    // (closed, reset, or a TLS stream cut short) leaves it in doubt. A server that closes
    // every connection after one answer (without saying "Connection: close") does that to
    // every request sent on a reused one: after a few in a row, this connection sends one
    // request per connection instead.
    bool died_unanswered =
        reply.request_written && !reply.answer_started &&
        (reply.outcome.cls == error_class::reset || reply.outcome.cls == error_class::truncated);
    if (reply.connection_reused && died_unanswered && ++reuse_deaths_in_a_row_ >= max_reuse_deaths)
      reuse_ = false;
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

void http_connection::shrink_read_buffer() {
  if (buffer_.size() == 0 && buffer_.capacity() > read_buffer_bytes) buffer_.shrink_to_fit();
  // Room for a whole answer makes one read per answer instead of three.
  buffer_.reserve(read_buffer_bytes);
}

void http_connection::release_grown_buffers(http_reply& reply) {
  reply.release_grown_body();
  if (out_.capacity() > http_reply::keep_body_capacity) std::string().swap(out_);
  if (buffer_.capacity() > read_buffer_bytes) shrink_read_buffer();
}

bool http_connection::peer_closed_or_spoke(std::chrono::steady_clock::time_point now) noexcept {
  // Bytes read ahead (by Asio or by OpenSSL) and never asked for.
  if (ssl_ && (transport_.size != 0 || SSL_has_pending(ssl_.get()))) return true;
  // Its first reuse is checked too: a server that closes every connection after one answer
  // (without saying so) is seen there, once per connection, not by a request in doubt.
  if (now - last_answer_ < reuse_check_idle && reuse_deaths_in_a_row_ == 0 &&
      requests_on_connection_ > 1)
    return false;
  pollfd p{};
  p.fd = socket_.native_handle();
  p.events = POLLIN | POLLRDHUP;
  return ::poll(&p, 1, 0) != 0; // readable, hung up, or an error: not fit to send on
}

} // namespace jobpatch::net
