#include "net/access_token_source.hpp"

#include <jobpatch/wire/response_parser.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace jobpatch::net {
namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto refresh_margin = std::chrono::seconds(60);    // refresh this long before expiry
constexpr auto default_lifetime = std::chrono::seconds(900); // when the answer gives none
constexpr unsigned exchange_attempts = 4;                    // ~2 s of tries in all
} // namespace

access_token_source::access_token_source(asio::any_io_executor executor, asio::ssl::context& tls,
                                         const server_address& server,
                                         const request_builder& builder, std::string api_key,
                                         std::chrono::milliseconds attempt_timeout)
    : executor_(executor), tls_(tls), server_(server), builder_(builder),
      api_key_(std::move(api_key)), attempt_timeout_(attempt_timeout),
      refreshed_(executor, clock::time_point::max()) {}

asio::awaitable<bool> access_token_source::ensure() {
  while (!cancelled_ && failure_.empty()) {
    if (!token_.empty() && clock::now() < refresh_at_) co_return true;
    if (refreshing_) {
      co_await refreshed_.async_wait(use_tuple);
      continue;
    }
    co_await exchange();
  }
  co_return false;
}

void access_token_source::invalidate(std::uint64_t generation) noexcept {
  if (generation == generation_) refresh_at_ = clock::now(); // one refresh for all
}

void access_token_source::cancel() noexcept {
  cancelled_ = true;
  if (connection_) connection_->close();
  refreshed_.cancel();
}

asio::awaitable<void> access_token_source::exchange() {
  refreshing_ = true;
  if (!connection_) connection_ = std::make_unique<http_connection>(executor_, &tls_, server_);
  response_parser parser;
  http_reply reply;
  std::string request;
  builder_.append_token_request(request, api_key_);
  std::string problem;
  for (unsigned attempt = 1; attempt <= exchange_attempts && !cancelled_; ++attempt) {
    co_await connection_->exchange(request, attempt_timeout_, reply);
    if (reply.outcome.cls == error_class::none && reply.status == 200) {
      std::string error;
      if (auto answer = parser.parse_access_token(reply.body, 0, error)) {
        token_ = std::move(answer->token);
        ++generation_;
        ++exchanges_;
        auto lifetime = answer->expires_in.value_or(default_lifetime);
        refresh_at_ =
            clock::now() + lifetime - std::min<clock::duration>(refresh_margin, lifetime / 5);
        refreshing_ = false;
        refreshed_.cancel();
        co_return;
      }
      problem = error;
    } else if (reply.outcome.cls == error_class::none) {
      std::string text = parser.error_text(reply.body);
      problem = "HTTP " + std::to_string(reply.status) + (text.empty() ? "" : ": " + text);
      if (reply.status == 404 || reply.status == 405) {
        // No token endpoint there: the URL is wrong, not the key.
        failure_ = "the token endpoint " + std::string(server_.tls ? "https://" : "http://") +
                   server_.host_header + server_.base_path + "/v1/auth/access_token answered " +
                   problem + "; check --base-url (the API root, e.g. https://api.bytenite.com)";
        break;
      }
      if (reply.status == 400 || reply.status == 401 || reply.status == 403) {
        failure_ = "authentication failed: the access-token exchange was refused (" + problem +
                   "); check the API key";
        break;
      }
    } else {
      problem = reply.detail;
      if (reply.outcome.cls == error_class::tls_verify) {
        failure_ = reply.detail;
        break;
      }
    }
    asio::steady_timer pause(executor_, std::chrono::milliseconds(125) * (1u << attempt));
    co_await pause.async_wait(use_tuple);
  }
  if (failure_.empty() && !cancelled_) failure_ = "cannot obtain an access token: " + problem;
  refreshing_ = false;
  refreshed_.cancel();
}

} // namespace jobpatch::net
