#include "net/access_token_source.hpp"

#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/token_reply.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace jobpatch::net {
namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using std::chrono::milliseconds;
// Backoff of the token exchange: full jitter under a ceiling that doubles from base to cap.
constexpr milliseconds exchange_base_delay{250};
constexpr milliseconds exchange_max_delay{10'000};
constexpr milliseconds exchange_max_retry_after{120'000};
// Failed exchanges in a row, with no valid token left, before the run is given up: a
// refused or unreachable host is hopeless sooner than an overloaded one (503, timeouts).
constexpr unsigned attempts_when_unreachable = 4;
constexpr unsigned attempts_when_failing = 8;
} // namespace

access_token_source::access_token_source(const asio::any_io_executor& executor,
                                         asio::ssl::context& tls, const server_address& server,
                                         const request_builder& builder, std::string api_key,
                                         std::chrono::milliseconds attempt_timeout)
    : executor_(executor), tls_(tls), server_(server), builder_(builder),
      api_key_(std::move(api_key)), attempt_timeout_(attempt_timeout),
      refreshed_(executor, clock::time_point::max()),
      jitter_(static_cast<std::minstd_rand::result_type>(std::random_device{}())) {
  scrubber_.add_permanent(api_key_);
  if (server.proxy) { // a proxy's error page may quote its credentials
    scrubber_.add_permanent(server.proxy->password);
    if (server.proxy->authorization.starts_with("Basic "))
      scrubber_.add_permanent(std::string_view(server.proxy->authorization).substr(6));
  }
}

asio::awaitable<bool> access_token_source::ensure() {
  while (!cancelled_ && failure_.empty()) {
    auto now = clock::now();
    if (!token_.empty() && now < refresh_at_) co_return true;
    start_refresh();                      // due: refresh in the background...
    if (token_valid(now)) co_return true; // ...while the current token still serves
    co_await refreshed_.async_wait(use_tuple);
  }
  co_return false;
}

void access_token_source::invalidate(std::uint64_t generation) noexcept {
  if (generation != generation_) return;
  // The server refused this token: it is no longer valid, whatever its lifetime said.
  refresh_at_ = valid_until_ = clock::now(); // one refresh for all
}

void access_token_source::cancel() noexcept {
  cancelled_ = true;
  if (connection_) connection_->close();
  refreshed_.cancel();
}

void access_token_source::start_refresh() {
  if (refreshing_ || cancelled_ || !failure_.empty()) return;
  refreshing_ = true;
  asio::co_spawn(executor_, refresh(), asio::detached);
}

void access_token_source::accept(token_reply_verdict&& verdict, clock::time_point sent) {
  token_ = std::move(verdict.token);
  scrubber_.add_token(token_); // the previous one stays too: a request in flight may echo it
  ++generation_;
  ++exchanges_;
  auto lifetime = std::chrono::duration_cast<clock::duration>(verdict.lifetime);
  // Counted from when the request left: the server's clock started no earlier.
  refresh_at_ = sent + lifetime * 4 / 5;
  valid_until_ =
      sent + lifetime - std::min<clock::duration>(std::chrono::seconds(1), lifetime / 10);
}

milliseconds access_token_source::backoff(unsigned failures,
                                          std::optional<milliseconds> retry_after) {
  milliseconds ceiling = std::min<milliseconds>(
      exchange_max_delay, exchange_base_delay * (1LL << std::min(failures - 1, 10u)));
  milliseconds wait(std::uniform_int_distribution<long long>(0, ceiling.count())(jitter_));
  if (retry_after) wait = std::max(wait, std::min(*retry_after, exchange_max_retry_after));
  return wait;
}

asio::awaitable<void> access_token_source::refresh() {
  if (!connection_) connection_ = std::make_unique<http_connection>(executor_, &tls_, server_);
  response_parser parser;
  http_reply reply;
  std::string request;
  builder_.append_token_request(request, api_key_);
  const std::string endpoint = std::string(server_.tls ? "https://" : "http://") +
                               server_.host_header + server_.base_path + "/v1/auth/access_token";
  std::string problem;
  unsigned failures = 0, failures_without_token = 0;
  while (!cancelled_) {
    auto sent = clock::now();
    co_await connection_->exchange(request, attempt_timeout_, reply);
    if (cancelled_) break;
    reply_facts facts;
    facts.transport = reply.outcome.cls;
    facts.transport_detail = server_text(reply.detail);
    facts.status = reply.status;
    facts.retry_after = reply.retry_after;
    facts.body = reply.body;
    token_reply_verdict verdict =
        classify_token_reply(facts, endpoint, parser, scrubber_, std::chrono::system_clock::now());
    if (verdict.kind == token_reply_kind::token) {
      accept(std::move(verdict), sent);
      refreshing_ = false;
      refreshed_.cancel();
      co_return;
    }
    if (gives_up(verdict.kind)) {
      failure_ = std::move(verdict.message);
      break;
    }
    problem = std::move(verdict.message);
    ++failures;
    if (!token_valid(clock::now())) {
      ++failures_without_token;
      bool too_long = verdict.retry_after && *verdict.retry_after > exchange_max_retry_after;
      unsigned most = verdict.kind == token_reply_kind::unreachable ? attempts_when_unreachable
                                                                    : attempts_when_failing;
      if (too_long || failures_without_token >= most) break;
    }
    asio::steady_timer pause(executor_, backoff(failures, verdict.retry_after));
    co_await pause.async_wait(use_tuple);
  }
  if (failure_.empty() && !cancelled_) failure_ = "cannot obtain an access token: " + problem;
  refreshing_ = false;
  refreshed_.cancel();
}

} // namespace jobpatch::net
