#pragma once
// The access token every request carries: exchanged from the API key at
// POST /v1/auth/access_token, refreshed before it expires and once after a 401, one
// exchange at a time however many workers ask. Single-threaded (the engine's thread).
//
// A refresh starts at 80 % of the token's lifetime (clamped, see token_lifetime()) and
// runs in the background while the current token stays valid: a failing token endpoint
// is retried with backoff and full jitter, Retry-After honoured as a minimum, for as long
// as that token lasts. Requests wait only when no valid token is held; the run is given
// up (failure()) only then, after repeated failures, or at once when the key is refused.

#include "net/http_connection.hpp"

#include <jobpatch/wire/request_builder.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace jobpatch {
struct token_reply_verdict;
}

namespace jobpatch::net {

class access_token_source {
public:
  using clock = std::chrono::steady_clock;

  // `api_key` is kept here only; it and the token never appear in any message.
  access_token_source(const asio::any_io_executor& executor, asio::ssl::context& tls,
                      const server_address& server, const request_builder& builder,
                      std::string api_key, std::chrono::milliseconds attempt_timeout);

  // Makes sure a fresh token is held, exchanging the key when none is or it is due.
  // Returns false when no token can be had (see failure()) or after cancel().
  asio::awaitable<bool> ensure();

  const std::string& token() const noexcept { return token_; }
  // Increases with every new token: a 401 for an older generation needs no refresh.
  std::uint64_t generation() const noexcept { return generation_; }
  std::uint64_t exchanges() const noexcept { return exchanges_; }

  // A request made with token `generation` was answered 401: refresh before the next one.
  void invalidate(std::uint64_t generation) noexcept;

  // Why no token can be had; empty while none has failed. `fatal` says the key itself
  // was refused or the server's certificate did not verify (exit 3 material).
  const std::string& failure() const noexcept { return failure_; }

  // Stops waiting and refreshing: ensure() returns false from now on.
  void cancel() noexcept;

  // Knows the API key and every token issued so far: apply it to any text from a
  // server before it reaches an output.
  const secret_scrubber& scrubber() const noexcept { return scrubber_; }

private:
  // Exchanges until a token is had, the key is refused, or (with no valid token left)
  // too many attempts failed. Runs detached; at most one at a time. What each answer
  // means is classify_token_reply()'s (wire/token_reply.hpp); this is the I/O and the loop.
  asio::awaitable<void> refresh();
  // Takes the token of `verdict` (a token_reply_kind::token), exchanged at `sent`.
  void accept(token_reply_verdict&& verdict, clock::time_point sent);
  // The wait before exchange number `failures` + 1: full jitter under a ceiling doubling
  // from 250 ms to 10 s, the server's Retry-After (at most 2 min) as a minimum.
  std::chrono::milliseconds backoff(unsigned failures,
                                    std::optional<std::chrono::milliseconds> retry_after);
  void start_refresh();
  bool token_valid(clock::time_point now) const noexcept {
    return !token_.empty() && now < valid_until_;
  }

  asio::any_io_executor executor_;
  asio::ssl::context& tls_;
  const server_address& server_;
  const request_builder& builder_;
  std::string api_key_;
  std::chrono::milliseconds attempt_timeout_;
  std::unique_ptr<http_connection> connection_;

  std::string token_;
  std::uint64_t generation_ = 0, exchanges_ = 0;
  clock::time_point refresh_at_{}, valid_until_{};
  bool refreshing_ = false, cancelled_ = false;
  asio::steady_timer refreshed_; // cancelled to wake the workers waiting for a refresh
  std::string failure_;
  secret_scrubber scrubber_;
  std::minstd_rand jitter_;
};

} // namespace jobpatch::net
