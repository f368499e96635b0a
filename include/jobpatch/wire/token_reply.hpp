#pragma once
// What one answer of the token exchange (POST /v1/auth/access_token) means: a token and
// its lifetime, a failure another exchange may mend (with the server's Retry-After), or
// one no exchange can mend (the key refused, no token endpoint at that URL, a certificate
// that does not verify). Pure, time passed in: the exchange itself and the retry loop are
// access_token_source's (src/net/).

#include <jobpatch/wire/reply_judgement.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch {

class response_parser;
class secret_scrubber;

enum class token_reply_kind : std::uint8_t {
  token,        // a 200 with a usable token
  malformed,    // a 200 without one (not JSON, no "token", characters unfit for a header)
  server_error, // any other HTTP status (429, 5xx, ...)
  unreachable,  // connection refused or failed, TLS handshake failed: given up sooner
  transport,    // any other transport failure (timeout, reset, truncated answer, ...)
  refused,      // HTTP 400, 401, 403: the key was refused
  no_endpoint,  // HTTP 404, 405: no token endpoint at that URL (--base-url is wrong)
  unusable,     // the certificate did not verify, or the proxy refused its credentials (407)
  oversized,    // a 200 with a token over max_token_bytes: refused, never stored
};

// The kinds no further exchange can mend: the run gives up at once.
constexpr bool gives_up(token_reply_kind kind) noexcept {
  return kind == token_reply_kind::refused || kind == token_reply_kind::no_endpoint ||
         kind == token_reply_kind::unusable || kind == token_reply_kind::oversized;
}

struct token_reply_verdict {
  token_reply_kind kind = token_reply_kind::transport;
  // kind == token: the token, expiresIn as the answer gave it (when usable), and the
  // lifetime to plan with (token_lifetime(): clamped, or the default without one).
  std::string token;
  std::optional<std::chrono::seconds> expires_in;
  std::chrono::seconds lifetime{0};
  // Otherwise, scrubbed of secrets: why the run gives up (gives_up(kind)), or what went
  // wrong with this exchange ("HTTP 503: overloaded").
  std::string message;
  // The server's Retry-After, when it gave a usable one (not for a token).
  std::optional<std::chrono::milliseconds> retry_after;
};

// Judges one answer. `reply.transport` is error_class::none for a complete HTTP answer
// (then status, body and retry_after count), else the transport's class and detail.
// `endpoint` is the token URL named when there is none ("https://host/v1/auth/access_token");
// `scrubber` removes the key and the tokens from every server text; `now` reads an
// HTTP-date Retry-After.
token_reply_verdict classify_token_reply(const reply_facts& reply, std::string_view endpoint,
                                         response_parser& parser, const secret_scrubber& scrubber,
                                         std::chrono::system_clock::time_point now);

} // namespace jobpatch
