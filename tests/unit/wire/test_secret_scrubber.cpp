#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/secret_scrubber.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

using jobpatch::max_token_bytes;
using jobpatch::secret_scrubber;

TEST_CASE("secret_scrubber removes every secret, in every spelling a server may echo") {
  secret_scrubber s;
  s.add_permanent("key-123/+\"x");
  s.add_token("tok-old-0001");
  s.add_token("tok-new-0002");
  CHECK(s.scrub("plain text") == "plain text");
  CHECK(s.scrub("Authorization: tok-old-0001\r\nX: tok-new-0002tok-new-0002") ==
        "Authorization: [redacted]\r\nX: [redacted][redacted]");
  CHECK(s.scrub(R"({"apiKey":"key-123/+\"x"})") == R"({"apiKey":"[redacted]"})");
  CHECK(s.scrub("apiKey=key-123%2F%2B%22x&") == "apiKey=[redacted]&");
  CHECK(s.scrub("key-123/+\"x") == "[redacted]");
}

TEST_CASE("secret_scrubber: a secret holding a backslash is removed as JSON spells it too") {
  secret_scrubber s;
  s.add_permanent(R"(key\with\slashes)");
  CHECK(s.scrub(R"(key\with\slashes)") == "[redacted]");
  CHECK(s.scrub(R"({"apiKey":"key\\with\\slashes"})") == R"({"apiKey":"[redacted]"})");
  CHECK(s.scrub("key%5Cwith%5Cslashes") == "[redacted]");
}

TEST_CASE("secret_scrubber: a secret that contains another is removed whole") {
  secret_scrubber s;
  s.add_permanent("abcd");
  s.add_token("abcdefgh");
  CHECK(s.scrub("xabcdefghx abcd") == "x[redacted]x [redacted]");
}

TEST_CASE("secret_scrubber ignores secrets too short to scrub and text that holds the mask") {
  secret_scrubber s;
  s.add_permanent("t");
  s.add_token("");
  CHECK(s.scrub("the token t") == "the token t");
  s.add_token("redacted");
  CHECK(s.scrub("redacted") == "[redacted]");
}

TEST_CASE("secret_scrubber keeps the key and the current and previous token, not every token") {
  secret_scrubber s;
  s.add_permanent("the-api-key");
  for (int i = 1; i <= 1000; ++i) s.add_token("token-" + std::to_string(i) + "-abcdef");
  CHECK(s.scrub("the-api-key") == "[redacted]");
  CHECK(s.scrub("token-1000-abcdef token-999-abcdef") == "[redacted] [redacted]");
  // Short tokens: older ones are kept as long as all fit in the budget.
  CHECK(s.tokens() == 1000); // 1000 x ~3 x 17 bytes: within token_budget_bytes
  CHECK(s.bytes() <= secret_scrubber::token_budget_bytes + 3 * 11);

  // JWT-like tokens of 24 KiB with '/' and '+' (percent-encoded to 3 bytes each): forms
  // of ~70 KiB per token, so only the current and the previous one are kept.
  secret_scrubber big;
  big.add_permanent("the-api-key");
  auto token = [](int i) {
    std::string t;
    for (int k = 0; k < 6000; ++k) t += "ab/+";
    return t + std::to_string(i);
  };
  for (int i = 0; i < 100; ++i) big.add_token(token(i));
  CHECK(big.tokens() == 2);
  CHECK(big.scrub(token(99)) == "[redacted]");
  CHECK(big.scrub(token(98)) == "[redacted]");
  CHECK((big.scrub(token(97)) == token(97))); // superseded twice: no request can echo it
  CHECK(big.scrub("the-api-key") == "[redacted]");
  // Bounded: the key's form and the two newest tokens' forms (each: 24,002 bytes as is,
  // 48,002 percent-encoded; the JSON-escaped form is the token itself).
  CHECK(big.bytes() == 11 + 2 * (24002 + 48002));
}

// Issue 24: what the scrubber holds for tokens is bounded in bytes, whatever the tokens,
// since none over max_token_bytes is taken (token_reply.cpp): the two newest tokens' forms
// (each at most 4 x max_token_bytes: itself, percent-encoded at 3 bytes per byte; a token
// has no byte a JSON string escapes) and older ones within token_budget_bytes.
TEST_CASE("secret_scrubber: tokens of the largest size taken keep it within a fixed bound") {
  secret_scrubber s;
  s.add_permanent("the-api-key");
  auto token = [](int i) {
    std::string t = std::to_string(i) + "-";
    while (t.size() < max_token_bytes) t += "ab/+"; // '/' and '+' are percent-encoded
    t.resize(max_token_bytes);
    return t;
  };
  std::size_t most = 0;
  for (int i = 0; i < 50; ++i) {
    s.add_token(token(i));
    most = std::max(most, s.bytes());
  }
  CHECK(s.tokens() == 2);
  CHECK(s.scrub(token(49)) == "[redacted]");
  CHECK(s.scrub(token(48)) == "[redacted]");
  CHECK(most <= 11 + 2 * 4 * max_token_bytes);
}

TEST_CASE("secret_scrubber: a proxy's credentials stay for good while tokens rotate") {
  // access_token_source's order: the API key, a proxy's password and Basic credentials,
  // then each token issued.
  secret_scrubber s;
  s.add_permanent("the-api-key");
  s.add_permanent("proxy-password");
  s.add_permanent("cHJveHk6cGFzc3dvcmQ=");
  std::string big(40000, 't');
  for (int i = 0; i < 10; ++i) s.add_token(big + std::to_string(i));
  CHECK(s.tokens() == 2);
  CHECK(s.scrub("the-api-key proxy-password cHJveHk6cGFzc3dvcmQ%3D") ==
        "[redacted] [redacted] [redacted]");
  CHECK(s.scrub(big + "9") == "[redacted]");
  CHECK(s.scrub(big + "8") == "[redacted]");
  CHECK(s.scrub(big + "7") != "[redacted]");
}

TEST_CASE("secret_scrubber: a token issued again, or equal to the key, stays scrubbed") {
  secret_scrubber s;
  s.add_permanent("same-secret");
  s.add_token("same-secret");
  std::string big(40000, 'b');
  for (int i = 0; i < 5; ++i) s.add_token(big + std::to_string(i));
  CHECK(s.scrub("same-secret") == "[redacted]"); // the key's forms are never evicted
  s.add_token(big + "0");                        // issued again: now the current token
  s.add_token(big + "5");
  CHECK(s.tokens() == 2);
  CHECK(s.scrub(big + "0") == "[redacted]");
  CHECK(s.scrub(big + "5") == "[redacted]");
  CHECK(s.scrub(big + "4") != "[redacted]");
}
