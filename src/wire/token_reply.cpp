#include <jobpatch/wire/token_reply.hpp>

#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/retry_after.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <utility>

namespace jobpatch {
namespace {

token_reply_verdict verdict_of(token_reply_kind kind, std::string message) {
  token_reply_verdict v;
  v.kind = kind;
  v.message = std::move(message);
  return v;
}

// A complete HTTP answer other than a usable token.
token_reply_verdict judge_status(const reply_facts& reply, std::string_view endpoint,
                                 response_parser& parser, const secret_scrubber& scrubber) {
  std::string text = scrubber.shown(parser.error_text(reply.body, reply.readable));
  std::string problem = "HTTP " + std::to_string(reply.status) + (text.empty() ? "" : ": " + text);
  if (reply.status == 404 || reply.status == 405)
    return verdict_of(token_reply_kind::no_endpoint,
                      "the token endpoint " + std::string(endpoint) + " answered " + problem +
                          "; check --base-url (the API root, e.g. https://api.bytenite.com)");
  if (reply.status == 400 || reply.status == 401 || reply.status == 403)
    return verdict_of(token_reply_kind::refused,
                      "authentication failed: the access-token exchange was refused (" + problem +
                          "); check the API key");
  return verdict_of(token_reply_kind::server_error, std::move(problem));
}

token_reply_verdict judge_transport(const reply_facts& reply, const secret_scrubber& scrubber) {
  std::string problem = scrubber.shown(reply.transport_detail);
  switch (reply.transport) {
  // A certificate that does not verify, a proxy refusing its credentials (407): the next
  // attempt would meet the same answer.
  case error_class::tls_verify:
  case error_class::auth_failed:
    return verdict_of(token_reply_kind::unusable, std::move(problem));
  case error_class::connect_refused:
  case error_class::connect_failed:
  case error_class::tls_handshake:
    return verdict_of(token_reply_kind::unreachable, std::move(problem));
  default:
    return verdict_of(token_reply_kind::transport, std::move(problem));
  }
}

} // namespace

token_reply_verdict classify_token_reply(const reply_facts& reply, std::string_view endpoint,
                                         response_parser& parser, const secret_scrubber& scrubber,
                                         std::chrono::system_clock::time_point now) {
  token_reply_verdict v;
  if (reply.transport != error_class::none) {
    v = judge_transport(reply, scrubber);
  } else if (reply.status != 200) {
    v = judge_status(reply, endpoint, parser, scrubber);
  } else {
    std::string error;
    auto answer = parser.parse_access_token(reply.body, reply.readable, error);
    if (answer && answer->refused_bytes != 0) {
      // The next exchange would issue one as large: the run cannot authenticate.
      return verdict_of(token_reply_kind::oversized,
                        "authentication failed: the token endpoint issued an access token of " +
                            std::to_string(answer->refused_bytes) + " bytes, over the " +
                            std::to_string(max_token_bytes >> 10) +
                            " KiB limit for a token; it was refused, not stored");
    }
    if (answer) {
      v.kind = token_reply_kind::token;
      v.token = std::move(answer->token);
      v.expires_in = answer->expires_in;
      v.lifetime = token_lifetime(answer->expires_in);
      return v;
    }
    v = verdict_of(token_reply_kind::malformed, scrubber.scrub(error));
  }
  if (!reply.retry_after.empty()) v.retry_after = parse_retry_after(reply.retry_after, now);
  return v;
}

} // namespace jobpatch
