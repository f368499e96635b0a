#include "hostile_server.hpp"
#include "child_process.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/completion_condition.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jobpatch::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

template <class T, void (*Free)(T*)>
using openssl_ptr = std::unique_ptr<T, decltype([](T* p) { Free(p); })>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("hostile_server certificate: ") + what);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// A self-signed P-256 certificate for `name` (CN and DNS name), its own trust anchor.
std::pair<std::string, std::string> make_certificate(const std::string& name, bool expired) {
  openssl_ptr<EVP_PKEY, EVP_PKEY_free> key(EVP_EC_gen("P-256"));
  check(key != nullptr, "key");
  openssl_ptr<X509, X509_free> cert(X509_new());
  check(cert && X509_set_version(cert.get(), 2), "version");
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), std::random_device{}() & 0x7fffffff);
  long day = 24 * 3600;
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), expired ? -30 * day : -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), expired ? -day : 30 * day);
  check(X509_set_pubkey(cert.get(), key.get()), "public key");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0),
        "subject");
  check(X509_set_issuer_name(cert.get(), subject), "issuer");
  auto extend = [&](int nid, std::string value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    openssl_ptr<X509_EXTENSION, X509_EXTENSION_free> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    check(ext && X509_add_ext(cert.get(), ext.get(), -1), "extension");
  };
  extend(NID_basic_constraints, "critical,CA:TRUE");
  extend(NID_key_usage, "critical,digitalSignature,keyCertSign");
  extend(NID_ext_key_usage, "serverAuth");
  extend(NID_subject_key_identifier, "hash");
  extend(NID_subject_alt_name, "DNS:" + name);
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "sign");
  openssl_ptr<BIO, BIO_free_all> cert_bio(BIO_new(BIO_s_mem())), key_bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(cert_bio.get(), cert.get()), "PEM");
  check(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr),
        "PEM");
  return {bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

bool iequals_prefix(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  return true;
}

std::string answer(std::string_view status, std::string_view body,
                   std::string_view content_type = "application/json") {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

// An answer of `status` with `body` as is: JSON when it starts with '{', else plain text.
std::string answer_as_is(int status, std::string_view body) {
  return answer(std::to_string(status) + " Scripted", body,
                body.starts_with('{') ? "application/json" : "text/plain");
}

// `text` with every "@job@" replaced by `job` and every "@body@" by `body`.
std::string filled_in(std::string text, const std::string& job, const std::string& body) {
  for (auto [mark, value] : {std::pair<std::string_view, const std::string&>{"@job@", job},
                             std::pair<std::string_view, const std::string&>{"@body@", body}})
    for (auto at = text.find(mark); at != std::string::npos;
         at = text.find(mark, at + value.size()))
      text.replace(at, mark.size(), value);
  return text;
}

} // namespace

struct hostile_server::impl {
  hostile_server_options o;
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
  asio::ssl::context tls{asio::ssl::context::tls_server};
  asio::ssl::context later_tls{asio::ssl::context::tls_server}; // see later_certificate_name
  std::string certificate;
  std::atomic<unsigned> tokens{0}, hostile{0}, accepted{0}, upgraded{0};
  std::vector<tcp::socket> stalled; // see stall_later_handshakes
  mutable std::mutex mutex;
  std::vector<std::string> applied_list;
  std::vector<std::chrono::steady_clock::time_point> token_times;
  std::vector<std::string> request_list; // see requests()
  std::vector<bomb_record> bomb_list;
  bool late_done = false;
  bool late_applied = false; // late_apply's late copy has landed
  mutable std::condition_variable late_landed;
  mutable std::condition_variable bomb_ended; // a bomb_list entry was added
  // The stateful modes' job names (JSON strings), by job id; on the server's thread only.
  std::map<std::string, std::string> names;
  std::thread thread;

  void apply(std::string entry) {
    std::lock_guard lock(mutex);
    applied_list.push_back(std::move(entry));
  }
  void apply_late(std::string entry) {
    {
      std::lock_guard lock(mutex);
      applied_list.push_back(std::move(entry));
      late_applied = true;
    }
    late_landed.notify_all();
  }

  asio::awaitable<void> accept_loop();
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream);
  // Writes the hostile answer of `mode` and records it in bomb_list.
  template <class Stream>
  asio::awaitable<void> misbehave(Stream& stream, hostile_mode mode);
  template <class Stream>
  asio::awaitable<void> misbehave_as(Stream& stream, hostile_mode mode, bomb_record& record);
  template <class Stream>
  asio::awaitable<bool> read_request(Stream& stream, std::string& buffer,
                                     std::string& request_line);
  // The last request read, head and body.
  std::string last_head, last_body;
  template <class Stream>
  asio::awaitable<bool> answer_token(Stream& stream);
  // Answers a PATCH in the modes that keep the connection; false to close it.
  template <class Stream>
  asio::awaitable<bool> answer_patch(Stream& stream, const std::string& request_line);
  // The answer of a stateful mode to a GET of the job or a PATCH of it.
  std::string answer_stateful(const std::string& request_line, const std::string& job);
};

namespace {
std::string json_quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\u%04x", c);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string job_of(const std::string& request_line) {
  auto at = request_line.find("/jobs/");
  if (at == std::string::npos) return {};
  at += 6;
  // "/jobs/ID/op HTTP/1.1" (a PATCH) or "/jobs/ID HTTP/1.1" (a GET of the job).
  return request_line.substr(at, request_line.find_first_of("/ ", at) - at);
}
} // namespace

asio::awaitable<void> hostile_server::impl::accept_loop() {
  while (true) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    bool later = accepted++ > 0;
    if (later && o.stall_later_handshakes) {
      stalled.push_back(std::move(socket)); // open, never read: the hello waits
      continue;
    }
    if (!o.tls) {
      asio::co_spawn(
          io,
          [this, s = std::move(socket)]() mutable -> asio::awaitable<void> { co_await serve(s); },
          asio::detached);
      continue;
    }
    asio::co_spawn(
        io,
        [this, s = asio::ssl::stream<tcp::socket>(std::move(socket),
                                                  later && !o.later_certificate_name.empty()
                                                      ? later_tls
                                                      : tls)]() mutable -> asio::awaitable<void> {
          auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::server, use_tuple);
          if (hec) co_return; // the client refused the certificate
          co_await serve(s);
        },
        asio::detached);
  }
}

// Reads one request (head and Content-Length body); false when the client went away.
template <class Stream>
asio::awaitable<bool> hostile_server::impl::read_request(Stream& stream, std::string& buffer,
                                                         std::string& request_line) {
  auto [ec, n] =
      co_await asio::async_read_until(stream, asio::dynamic_buffer(buffer), "\r\n\r\n", use_tuple);
  if (ec) co_return false;
  std::string head = buffer.substr(0, n);
  buffer.erase(0, n);
  request_line = head.substr(0, head.find("\r\n"));
  std::size_t length = 0;
  for (std::size_t at = 0; at < head.size();) {
    std::size_t end = head.find("\r\n", at);
    std::string_view line(head.data() + at, end - at);
    if (iequals_prefix(line, "content-length:")) length = std::stoul(std::string(line.substr(15)));
    at = end + 2;
  }
  if (buffer.size() < length) {
    auto [rec, m] =
        co_await asio::async_read(stream, asio::dynamic_buffer(buffer),
                                  asio::transfer_exactly(length - buffer.size()), use_tuple);
    (void)m;
    if (rec) co_return false;
  }
  last_head = head;
  last_body = buffer.substr(0, length);
  buffer.erase(0, length);
  co_return true;
}

template <class Stream>
asio::awaitable<bool> hostile_server::impl::answer_token(Stream& stream) {
  unsigned index = tokens++;
  {
    std::lock_guard lock(mutex);
    token_times.push_back(std::chrono::steady_clock::now());
  }
  if (index < o.token_bombs.size()) {
    co_await misbehave(stream, o.token_bombs[index]);
    co_return false; // closes the connection
  }
  int status = index < o.token_statuses.size() ? o.token_statuses[index] : 200;
  std::string text;
  if (status == 200) {
    std::string body = o.token_body;
    if (auto hash = body.find('#'); hash != std::string::npos)
      body.replace(hash, 1, std::to_string(index));
    text = answer("200 OK", body);
  } else if (status == 401 && !o.token_error_body.empty()) {
    text = answer_as_is(401, o.token_error_body);
  } else if (status == 401) {
    std::string body =
        R"({"code":16,"message":)" + json_quoted("rejected: " + last_head + last_body) + "}";
    text = answer("401 Unauthorized", body);
  } else {
    std::string head = "HTTP/1.1 " + std::to_string(status) + " Unavailable\r\n";
    if (!o.token_retry_after.empty()) head += "Retry-After: " + o.token_retry_after + "\r\n";
    std::string body = R"({"code":14,"message":"token service unavailable"})";
    text = head +
           "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  }
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(text), use_tuple);
  (void)n;
  co_return !ec;
}

template <class Stream>
asio::awaitable<bool> hostile_server::impl::answer_patch(Stream& stream,
                                                         const std::string& request_line) {
  std::string job = job_of(request_line);
  std::string ok = answer("200 OK", R"({"job":{"id":")" + job + R"(","state":"JOB_STATE_NEW"}})");
  std::string text;
  switch (o.mode) {
  case hostile_mode::ok:
  case hostile_mode::one_per_connection:
    apply(job + " " + last_body);
    text = ok;
    break;
  case hostile_mode::interim_then_ok:
    apply(job + " " + last_body);
    for (unsigned i = 0; i < o.interim_answers; ++i)
      text += i == 0 ? "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                     : "HTTP/1.1 100 Continue\r\n\r\n";
    text += ok;
    break;
  case hostile_mode::trailing_answer:
    apply(job + " " + last_body);
    text = ok + answer("200 OK", R"({"job":{"id":"stray","state":"JOB_STATE_NEW"}})");
    break;
  case hostile_mode::no_content:
    apply(job + " " + last_body);
    text = "HTTP/1.1 204 No Content\r\n\r\n";
    break;
  case hostile_mode::late_apply: {
    bool late = false;
    {
      std::lock_guard lock(mutex);
      late = last_body == R"("old")" && !late_done;
      late_done = late_done || late;
    }
    if (late) {
      // Received, never answered, applied later (a backend still working on it).
      auto entry = std::make_shared<std::string>(job + " " + last_body);
      auto timer = std::make_shared<asio::steady_timer>(io, 500ms);
      timer->async_wait(
          [this, entry, timer](const boost::system::error_code&) { apply_late(*entry); });
      co_return false;
    }
    apply(job + " " + last_body);
    text = ok;
    break;
  }
  case hostile_mode::wrong_job:
    apply(job + " " + last_body);
    text = answer("200 OK", R"({"job":{"id":"other-job","state":"JOB_STATE_NEW"}})");
    break;
  case hostile_mode::echo_name:
    apply(job + " " + last_body);
    text = answer("200 OK", R"({"job":{"id":")" + job + R"(","name":)" +
                                json_quoted("job of " + last_head) + "}}");
    break;
  case hostile_mode::echo_403: {
    std::string body = R"({"code":7,"message":)" + json_quoted("forbidden: " + last_head) + "}";
    text = answer("403 Forbidden", body);
    break;
  }
  case hostile_mode::stateful_ok:
  case hostile_mode::applied_empty_body:
  case hostile_mode::applied_text_body:
  case hostile_mode::applied_other_job:
  case hostile_mode::scripted:
    text = answer_stateful(request_line, job);
    break;
  case hostile_mode::switching_protocols:
    apply(job + " " + last_body); // applied, then the protocol switched: in doubt
    text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    break;
  default:
    co_return false;
  }
  if (o.answer_delay.count() > 0) {
    asio::steady_timer delay(io, o.answer_delay);
    co_await delay.async_wait(use_tuple);
  }
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(text), use_tuple);
  (void)n;
  co_return !ec;
}

std::string hostile_server::impl::answer_stateful(const std::string& request_line,
                                                  const std::string& job) {
  std::string& name = names.try_emplace(job, json_quoted("before " + job)).first->second;
  auto document = [&](const std::string& id) {
    return R"({"job":{"id":")" + id + R"(","name":)" + name + R"(,"state":)" +
           json_quoted(o.job_state) + "}}";
  };
  if (request_line.starts_with("GET ")) {
    auto given = o.documents.find(job);
    return answer("200 OK", given != o.documents.end() ? given->second : document(job));
  }
  bool applied_here = o.mode != hostile_mode::scripted || o.answer_status / 100 == 2;
  if (request_line.find("/jobname ") != std::string::npos && applied_here)
    name = last_body; // a JSON string
  if (applied_here) apply(job + " " + last_body);
  switch (o.mode) {
  case hostile_mode::scripted:
    if (o.answer_body.empty()) return answer_as_is(o.answer_status, document(job));
    return answer_as_is(o.answer_status, filled_in(o.answer_body, job, last_body));
  case hostile_mode::applied_empty_body:
    return answer("200 OK", "");
  case hostile_mode::applied_text_body:
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nupdated";
  case hostile_mode::applied_other_job:
    return answer("200 OK", document("other-job"));
  default:
    return answer("200 OK", document(job));
  }
}

template <class Stream>
asio::awaitable<void> hostile_server::impl::serve(Stream& stream) {
  std::string buffer, request_line;
  unsigned patches_here = 0;  // PATCHes read on this connection
  bool upgraded_here = false; // switching_protocols: this connection answered 101
  while (co_await read_request(stream, buffer, request_line)) {
    if (request_line.starts_with("POST /v1/auth/access_token ")) {
      bool open = co_await answer_token(stream);
      if (!open) co_return;
      continue;
    }
    ++hostile;
    {
      std::lock_guard lock(mutex);
      request_list.push_back(request_line.substr(0, request_line.rfind(' ')));
    }
    if (o.mode == hostile_mode::one_per_connection && patches_here++ > 0) {
      if (o.reset_unanswered) {
        boost::system::error_code ignored;
        stream.lowest_layer().set_option(asio::socket_base::linger(true, 0), ignored);
        stream.lowest_layer().close(ignored); // with a zero linger: RST, not FIN
      }
      co_return;
    }
    if (upgraded_here) {
      // A WebSocket peer takes these bytes for a frame: it answers with a close frame
      // (1002, protocol error) and closes.
      ++upgraded;
      static constexpr char close_frame[] = {'\x88', '\x02', '\x03', '\xea'};
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(close_frame), use_tuple);
      (void)ec;
      (void)n;
      co_return;
    }
    if (o.mode >= hostile_mode::ok) {
      bool open = co_await answer_patch(stream, request_line);
      if (!open) co_return;
      upgraded_here = o.mode == hostile_mode::switching_protocols;
      continue;
    }
    co_await misbehave(stream, o.mode);
    co_return; // closes the connection
  }
}

template <class Stream>
asio::awaitable<void> hostile_server::impl::misbehave(Stream& stream, hostile_mode mode) {
  bomb_record record;
  auto start = std::chrono::steady_clock::now();
  co_await misbehave_as(stream, mode, record);
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::lock_guard lock(mutex);
  bomb_list.push_back(record);
  bomb_ended.notify_all();
}

// The hostile answer of `mode`. Endless ones end when the client stops reading (the write
// fails), or after a generous bound.
template <class Stream>
asio::awaitable<void> hostile_server::impl::misbehave_as(Stream& stream, hostile_mode mode,
                                                         bomb_record& record) {
  auto send = [&](std::string_view bytes) -> asio::awaitable<bool> {
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes), use_tuple);
    record.bytes += n;
    record.client_hung_up = record.client_hung_up || ec;
    co_return !ec;
  };
  // `head`, then `block` again and again until bomb_bytes went out or the client hung up.
  auto flood = [&](std::string_view head, std::string_view block) -> asio::awaitable<void> {
    bool open = co_await send(head);
    while (open && record.bytes < bomb_bytes) open = co_await send(block);
  };
  const std::string zeros(64 << 10, '0');
  const std::string chunked_head =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  switch (mode) {
  case hostile_mode::garbage: {
    std::mt19937 random(hostile.load());
    std::string junk(4096, '\0');
    for (auto& c : junk) c = static_cast<char>(random());
    co_await send(junk);
    co_return;
  }
  case hostile_mode::huge_body: {
    if (!co_await send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                       "100000000\r\n\r\n"))
      co_return;
    for (std::size_t sent = 0; sent < 100'000'000; sent += zeros.size())
      if (!co_await send(
              std::string_view(zeros).substr(0, std::min(zeros.size(), 100'000'000 - sent))))
        co_return;
    co_return;
  }
  case hostile_mode::endless_body: {
    if (!co_await send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
                       "chunked\r\n\r\n"))
      co_return;
    std::string chunk = "10000\r\n" + zeros + "\r\n";
    for (int i = 0; i < 16384; ++i) // at most 1 GiB
      if (!co_await send(chunk)) co_return;
    co_return;
  }
  case hostile_mode::overlong_body: {
    if (!co_await send(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n"))
      co_return;
    for (std::size_t sent = 0; sent < 50'000'000; sent += zeros.size())
      if (!co_await send(zeros)) co_return;
    co_return;
  }
  case hostile_mode::endless_headers: {
    if (!co_await send("HTTP/1.1 200 OK\r\n")) co_return;
    std::string line = "X-Filler: " + std::string(1000, 'a') + "\r\n";
    for (int i = 0; i < 1'000'000; ++i) // at most 1 GB
      if (!co_await send(line)) co_return;
    co_return;
  }
  case hostile_mode::slowloris: {
    std::string text = answer("200 OK", R"({"job":{"id":"job-0000001","name":"a"}})");
    asio::steady_timer timer(io);
    for (char c : text) {
      if (!co_await send(std::string_view(&c, 1))) co_return;
      timer.expires_after(500ms);
      co_await timer.async_wait(use_tuple);
    }
    co_return;
  }
  case hostile_mode::endless_chunk_extension:
    co_await flood(chunked_head + "1;x=", std::string(64 << 10, 'a'));
    co_return;
  case hostile_mode::endless_trailer: {
    std::string line = "X-Trailer: " + std::string(1000, 'a') + "\r\n", block;
    while (block.size() < (64 << 10)) block += line;
    co_await flood(chunked_head + "2\r\n{}\r\n0\r\n", block);
    co_return;
  }
  case hostile_mode::endless_header_line:
    co_await flood("HTTP/1.1 200 OK\r\nX-Endless: ", std::string(64 << 10, 'a'));
    co_return;
  case hostile_mode::ok: // the well-behaved modes never reach misbehave()
  case hostile_mode::interim_then_ok:
  case hostile_mode::no_content:
  case hostile_mode::late_apply:
  case hostile_mode::echo_403:
  case hostile_mode::wrong_job:
  case hostile_mode::echo_name:
  case hostile_mode::one_per_connection:
  case hostile_mode::stateful_ok:
  case hostile_mode::applied_empty_body:
  case hostile_mode::applied_text_body:
  case hostile_mode::applied_other_job:
  case hostile_mode::scripted:
  case hostile_mode::trailing_answer:
  case hostile_mode::switching_protocols:
    co_return;
  }
}

hostile_server::hostile_server(hostile_server_options options) : impl_(std::make_unique<impl>()) {
  impl_->o = std::move(options);
  if (impl_->o.tls) {
    auto [cert, key] = make_certificate(impl_->o.certificate_name, impl_->o.expired);
    impl_->certificate = cert;
    impl_->tls.use_certificate_chain(asio::buffer(cert));
    impl_->tls.use_private_key(asio::buffer(key), asio::ssl::context::pem);
    if (!impl_->o.later_certificate_name.empty()) {
      auto [later_cert, later_key] = make_certificate(impl_->o.later_certificate_name, false);
      impl_->later_tls.use_certificate_chain(asio::buffer(later_cert));
      impl_->later_tls.use_private_key(asio::buffer(later_key), asio::ssl::context::pem);
    }
  }
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

hostile_server::~hostile_server() {
  impl_->io.stop();
  impl_->thread.join();
}

unsigned short hostile_server::port() const { return impl_->acceptor.local_endpoint().port(); }
const std::string& hostile_server::certificate_pem() const { return impl_->certificate; }
unsigned hostile_server::token_requests() const { return impl_->tokens.load(); }
unsigned hostile_server::hostile_answers() const { return impl_->hostile.load(); }
unsigned hostile_server::connections() const { return impl_->accepted.load(); }
unsigned hostile_server::upgraded_reuses() const { return impl_->upgraded.load(); }
std::vector<bomb_record> hostile_server::bombs() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->bomb_list;
}
std::vector<std::string> hostile_server::applied() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->applied_list;
}
std::vector<std::string> hostile_server::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->request_list;
}
std::vector<std::chrono::steady_clock::time_point> hostile_server::token_request_times() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->token_times;
}

void hostile_server::set_mode(hostile_mode mode) {
  // On the server's thread, between two requests it reads.
  std::promise<void> done;
  asio::post(impl_->io, [this, mode, &done] {
    impl_->o.mode = mode;
    done.set_value();
  });
  done.get_future().wait();
}

bool hostile_server::wait_for_bombs(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->bomb_ended.wait_for(lock, slowed(timeout),
                                    [&] { return impl_->bomb_list.size() >= count; });
}

bool hostile_server::wait_for_late_copy(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->late_landed.wait_for(lock, slowed(timeout), [this] { return impl_->late_applied; });
}

measured_run run_measured(std::vector<std::string> argv, std::map<std::string, std::string> env,
                          const std::string& stdout_path, const std::string& stderr_path,
                          std::chrono::milliseconds timeout) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  auto start = std::chrono::steady_clock::now();
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // The child dies with the test, as child_process's do.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
    for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    auto redirect = [](const std::string& path, int fd) {
      int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (out >= 0) ::dup2(out, fd);
    };
    redirect(stdout_path, STDOUT_FILENO);
    redirect(stderr_path, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  measured_run out;
  bool killed = false;
  while (true) {
    int status = 0;
    rusage usage{};
    pid_t r = ::wait4(pid, &status, WNOHANG, &usage);
    if (r == pid) {
      out.peak_rss_kb = usage.ru_maxrss;
      out.code = killed ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      note_sanitizer_exit(argv[0], pid, out.code, stderr_path);
      break;
    }
    if (!killed && std::chrono::steady_clock::now() - start > slowed(timeout)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(10ms);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

} // namespace jobpatch::test
