#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>
#include <jobpatch/wire/token_reply.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace jobpatch;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view endpoint = "https://api.example/v1/auth/access_token";
constexpr std::string_view key = "sk-live-0123456789";

// 1994-11-06 08:49:37 UTC, the RFC's example instant (as in test_retry_after.cpp).
system_clock::time_point rfc_example() {
  return sys_days{year{1994} / November / 6} + 8h + 49min + 37s;
}

struct judge {
  response_parser parser;
  secret_scrubber scrubber;
  judge() { scrubber.add_permanent(key); }

  token_reply_verdict answer(int status, std::string_view body, std::string_view retry_after = {}) {
    reply_facts facts;
    facts.status = status;
    facts.body = body;
    facts.retry_after = retry_after;
    return classify_token_reply(facts, endpoint, parser, scrubber, rfc_example());
  }
  token_reply_verdict transport(error_class cls, std::string_view detail) {
    reply_facts facts;
    facts.transport = cls;
    facts.transport_detail = server_text(detail);
    return classify_token_reply(facts, endpoint, parser, scrubber, rfc_example());
  }
};

} // namespace

TEST_CASE("token reply: a 200 with a token, expiresIn in each of its forms") {
  judge j;
  auto plain = j.answer(200, R"({"token":"tok-1","expiresIn":"3600"})");
  CHECK(plain.kind == token_reply_kind::token);
  CHECK_FALSE(gives_up(plain.kind));
  CHECK(plain.token == "tok-1");
  CHECK(plain.expires_in == 3600s);
  CHECK(plain.lifetime == 3600s);
  CHECK(plain.message.empty());
  CHECK_FALSE(plain.retry_after);

  CHECK(j.answer(200, R"({"token":"t","expiresIn":3600})").lifetime == 3600s);
  CHECK(j.answer(200, R"({"token":"t","expiresIn":3600.9})").lifetime == 3600s);
  CHECK(j.answer(200, R"({"accessToken":"t","expires_in":60})").lifetime == 60s);
  auto snake = j.answer(200, R"({"access_token":"t2","expires_in":"60"})");
  CHECK(snake.token == "t2");
  CHECK(snake.lifetime == 60s);
  // Absurd lifetimes (an epoch in ms, beyond int64) are clamped, never overflow.
  CHECK(j.answer(200, R"({"token":"t","expiresIn":1e10})").lifetime == max_token_lifetime);
  CHECK(j.answer(200, R"({"token":"t","expiresIn":"99999999999999999999"})").lifetime ==
        max_token_lifetime);
  CHECK(j.answer(200, R"({"token":"t","expiresIn":1e300})").lifetime == max_token_lifetime);
  CHECK(j.answer(200, R"({"token":"t","expiresIn":1})").lifetime == min_token_lifetime);
  // Missing, zero, negative or unreadable: no expiry, the default lifetime.
  for (const char* body :
       {R"({"token":"t"})", R"({"token":"t","expiresIn":0})", R"({"token":"t","expiresIn":-5})",
        R"({"token":"t","expiresIn":"1h"})", R"({"token":"t","expiresIn":null})",
        R"({"token":"t","expiresIn":"-3"})"}) {
    CAPTURE(body);
    auto v = j.answer(200, body);
    CHECK(v.kind == token_reply_kind::token);
    CHECK_FALSE(v.expires_in);
    CHECK(v.lifetime == default_token_lifetime);
  }
}

TEST_CASE("token reply: a 200 without a usable token is malformed, and retried") {
  judge j;
  auto none = j.answer(200, R"({"expiresIn":3600})");
  CHECK(none.kind == token_reply_kind::malformed);
  CHECK_FALSE(gives_up(none.kind));
  CHECK(none.message == "the token answer has no \"token\"");
  CHECK(none.token.empty());
  CHECK(j.answer(200, R"({"token":""})").kind == token_reply_kind::malformed);
  CHECK(j.answer(200, R"({"token":42})").kind == token_reply_kind::malformed);
  auto html = j.answer(200, "<html>gateway</html>");
  CHECK(html.kind == token_reply_kind::malformed);
  CHECK(html.message == "the token answer is not a JSON object");
  CHECK(j.answer(200, "[1,2]").message == "the token answer is not a JSON object");
  auto unsafe = j.answer(200, R"({"token":"a\r\nSet-Cookie: x"})");
  CHECK(unsafe.kind == token_reply_kind::malformed);
  CHECK(unsafe.message.find("not allowed in a header") != std::string::npos);
  // A 200's Retry-After is kept too: the loop waits at least that long.
  CHECK(j.answer(200, "{}", "3").retry_after == 3s);
}

TEST_CASE("token reply: 400, 401 and 403 refuse the key: given up at once") {
  judge j;
  for (int status : {400, 401, 403}) {
    CAPTURE(status);
    auto v = j.answer(status, R"({"code":16,"message":"invalid api key"})");
    CHECK(v.kind == token_reply_kind::refused);
    CHECK(gives_up(v.kind));
    CHECK(v.message == "authentication failed: the access-token exchange was refused (HTTP " +
                           std::to_string(status) + ": invalid api key); check the API key");
  }
  // Without a text, the status alone.
  CHECK(j.answer(401, "").message ==
        "authentication failed: the access-token exchange was refused (HTTP 401); check the API "
        "key");
}

TEST_CASE("token reply: 404 and 405 mean no token endpoint at --base-url") {
  judge j;
  for (int status : {404, 405}) {
    CAPTURE(status);
    auto v = j.answer(status, "not found");
    CHECK(v.kind == token_reply_kind::no_endpoint);
    CHECK(gives_up(v.kind));
    CHECK(v.message == "the token endpoint " + std::string(endpoint) + " answered HTTP " +
                           std::to_string(status) +
                           ": not found; check --base-url (the API root, e.g. "
                           "https://api.bytenite.com)");
  }
}

TEST_CASE("token reply: 429 and 5xx are retried, with the server's Retry-After") {
  judge j;
  auto busy = j.answer(429, R"({"error":{"message":"slow down"}})", "7");
  CHECK(busy.kind == token_reply_kind::server_error);
  CHECK_FALSE(gives_up(busy.kind));
  CHECK(busy.message == "HTTP 429: slow down");
  CHECK(busy.retry_after == 7s);
  // An HTTP-date, read against the `now` passed in.
  CHECK(j.answer(503, "", "Sun, 06 Nov 1994 08:50:07 GMT").retry_after == 30s);
  // Unusable or absent: none.
  CHECK_FALSE(j.answer(503, "", "soon").retry_after);
  auto down = j.answer(503, R"({"message":"overloaded"})");
  CHECK(down.kind == token_reply_kind::server_error);
  CHECK(down.message == "HTTP 503: overloaded");
  CHECK_FALSE(down.retry_after);
  CHECK(j.answer(500, "").message == "HTTP 500");
  CHECK(j.answer(302, "").kind == token_reply_kind::server_error);
  // A body that is not JSON is shown as printable text.
  auto gateway = j.answer(502, "<html>bad\r\ngateway</html>");
  CHECK(gateway.kind == token_reply_kind::server_error);
  CHECK(gateway.message == "HTTP 502: <html>bad  gateway</html>");
}

TEST_CASE("token reply: transport failures: unusable ones give up, unreachable ones sooner") {
  judge j;
  auto cert = j.transport(error_class::tls_verify, "certificate verify failed");
  CHECK(cert.kind == token_reply_kind::unusable);
  CHECK(gives_up(cert.kind));
  CHECK(cert.message == "certificate verify failed");
  auto proxy = j.transport(error_class::auth_failed, "the proxy refused: HTTP 407");
  CHECK(proxy.kind == token_reply_kind::unusable);
  CHECK(gives_up(proxy.kind));
  for (auto cls :
       {error_class::connect_refused, error_class::connect_failed, error_class::tls_handshake}) {
    CAPTURE(to_string(cls));
    auto v = j.transport(cls, "connection refused");
    CHECK(v.kind == token_reply_kind::unreachable);
    CHECK_FALSE(gives_up(v.kind));
    CHECK(v.message == "connection refused");
  }
  for (auto cls : {error_class::timeout, error_class::reset, error_class::truncated,
                   error_class::malformed_response, error_class::resolve}) {
    CAPTURE(to_string(cls));
    auto v = j.transport(cls, "timed out");
    CHECK(v.kind == token_reply_kind::transport);
    CHECK_FALSE(gives_up(v.kind));
  }
}

TEST_CASE("token reply: a token over 64 KiB is refused, the run given up with the limit named") {
  judge j;
  auto v = j.answer(200, R"({"token":")" + std::string(1 << 20, 'x') + R"(","expiresIn":60})");
  CHECK(v.kind == token_reply_kind::oversized);
  CHECK(gives_up(v.kind)); // the next token would be as large: exit 3, as a refused key
  CHECK(v.token.empty());
  CHECK(v.message == "authentication failed: the token endpoint issued an access token of "
                     "1048576 bytes, over the 64 KiB limit for a token; it was refused, not "
                     "stored");
  auto at_limit = j.answer(200, R"({"token":")" + std::string(max_token_bytes, 'x') + R"("})");
  CHECK(at_limit.kind == token_reply_kind::token);
  CHECK(at_limit.token.size() == max_token_bytes);
}

TEST_CASE("token reply: server text never carries the key or a token") {
  judge j;
  std::string quoted = R"({"message":"bad key )" + std::string(key) + R"("})";
  auto refused = j.answer(401, quoted);
  CHECK(refused.message.find(key) == std::string::npos);
  CHECK(refused.message.find("[redacted]") != std::string::npos);
  auto busy = j.answer(503, "key=" + std::string(key));
  CHECK(busy.message.find(key) == std::string::npos);
  CHECK(j.answer(404, std::string(key)).message.find(key) == std::string::npos);
  // A token issued earlier is a secret too, once the scrubber knows it.
  j.scrubber.add_token("tok-earlier-1");
  CHECK(j.answer(500, "tok-earlier-1 expired").message == "HTTP 500: [redacted] expired");
  auto tls = j.transport(error_class::tls_verify, "peer sent " + std::string(key));
  CHECK(tls.message.find(key) == std::string::npos);
}
