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
  CHECK(s.tokens() == 1000); // 1000 x ~17 bytes: within token_budget_bytes
  CHECK(s.bytes() <= secret_scrubber::token_budget_bytes + 11);

  // JWT-like tokens of 24 KiB: three would be over the budget, so only the current and
  // the previous one are kept.
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
  // Bounded: the key and the two newest tokens, each kept once (every spelling is matched
  // by decoding the text, not by keeping the spellings).
  CHECK(big.bytes() == 11 + 2 * 24002);
}

// Issue 24: what the scrubber holds for tokens is bounded in bytes, whatever the tokens,
// since none over max_token_bytes is taken (token_reply.cpp): the two newest tokens and
// older ones within token_budget_bytes.
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
  CHECK(most <= 11 + 2 * max_token_bytes);
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

// Issue 24: a server may spell a secret any way JSON or a URL allows, even mixed.
TEST_CASE("secret_scrubber: a secret is found in any JSON-escaped or percent-encoded spelling") {
  secret_scrubber s;
  s.add_permanent("k3y/5f1e-9c2d");
  for (const char* spelled : {
           R"(k3y\/5f1e-9c2d)",           // PHP's "\/"
           R"(k3y/5f1e\u002d9c2d)",       // "-" as a \u escape
           R"(k3y/5f1e\u002D9c2d)",       // upper-case hex
           R"(\u006b\u0033y\/5f1e-9c2d)", // letters escaped too
           "k3y%2F5f1e-9c2d",             // percent-encoded
           "k3y%2f5f1e%2d9c2d",           // lower-case hex, an unreserved byte encoded too
           "%6B%33%79%2F%35%66%31%65%2D%39%63%32%64",
           R"(k3y%2F5f1e\u002d9c2d)", // mixed
       }) {
    INFO(spelled);
    CHECK(s.scrub(std::string("<") + spelled + ">") == "<[redacted]>");
    CHECK(s.holds_secret(spelled));
  }
  CHECK_FALSE(s.holds_secret("k3y/5f1e-9c2e"));
  CHECK_FALSE(s.holds_secret(R"(k3y\/5f1e\u002e9c2d)"));
  CHECK(s.scrub(R"(k3y\x/5f1e)") == R"(k3y\x/5f1e)"); // not an escape, not the key
}

TEST_CASE("secret_scrubber: characters beyond ASCII as JSON \\u escapes, surrogate pairs too") {
  secret_scrubber s;
  s.add_permanent("pw-caf\xC3\xA9-\xF0\x9F\x98\x80-end");
  CHECK(s.scrub(R"(x pw-caf\u00e9-\ud83d\ude00-end y)") == "x [redacted] y");
  CHECK(s.scrub("x pw-caf%C3%A9-%F0%9F%98%80-end y") == "x [redacted] y");
  // A lone surrogate stands for nothing: no match, and no crash.
  CHECK(s.scrub(R"(pw-caf\u00e9-\ud83d-end)") == R"(pw-caf\u00e9-\ud83d-end)");
}

TEST_CASE("secret_scrubber: a raw backslash or percent in a secret is matched as it stands") {
  secret_scrubber s;
  s.add_permanent(R"(a\b%zz\u12)");
  CHECK(s.scrub(R"(<a\b%zz\u12>)") == "<[redacted]>");
  CHECK(s.scrub(R"(<a\\b%25zz\\u12>)") == "<[redacted]>");
}

// Issue 24: server text used to be cut to its excerpt and then scrubbed, so a key that
// straddled the cut lost its tail and its head was shown.
TEST_CASE("secret_scrubber: shown() scrubs before it cuts, whatever the spelling") {
  secret_scrubber s;
  const std::string key = "k3y/5f1e-9c2d-77ab-0011";
  s.add_permanent(key);
  for (std::size_t before = 180; before <= 200; ++before) {
    for (std::string spelled : {key, std::string(R"(k3y\/5f1e\u002d9c2d-77ab-0011)"),
                                std::string("k3y%2F5f1e-9c2d-77ab-0011")}) {
      std::string text = std::string(before, 'x') + spelled + " tail";
      std::string shown = s.shown(jobpatch::server_text(text, 200));
      INFO(before, " ", shown);
      CHECK(shown.size() <= 203);
      CHECK(shown.find("k3y") == std::string::npos);
      CHECK(shown.find("%2F") == std::string::npos);
      CHECK(shown.find("k3y\\/") == std::string::npos);
      if (before < 200) CHECK(shown[before] == '['); // the mask, perhaps cut itself
    }
  }
  // Short text is shown whole, made printable, trailing spaces dropped; long text is cut
  // with a mark, on a character boundary.
  CHECK(s.shown(jobpatch::server_text("a\x1b[2Jb\r\n", 200)) == "a [2Jb");
  CHECK(s.shown(jobpatch::server_text(std::string(300, 'y'), 200)) ==
        std::string(200, 'y') + "...");
  CHECK(s.shown(jobpatch::server_text(std::string(200, 'y'), 200)) == std::string(200, 'y'));
  CHECK(s.shown(jobpatch::server_text("\xC3\xA9\xC3\xA9", 3)) == "\xC3\xA9...");
}

TEST_CASE("secret_scrubber: a megabyte of text is scrubbed of a 64 KiB token at memcmp speed") {
  secret_scrubber s;
  std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token, text;
  std::uint32_t x = 12345;
  auto next = [&] { return alphabet[(x = x * 1664525u + 1013904223u) >> 26]; };
  while (token.size() < max_token_bytes) token += next();
  while (text.size() < (std::size_t{1} << 20)) text += next();
  s.add_token(token);
  CHECK(s.scrub(text) == text);
  CHECK(s.scrub(text + token + text).size() == 2 * text.size() + secret_scrubber::mask.size());
}
