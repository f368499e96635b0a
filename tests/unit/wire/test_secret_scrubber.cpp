#include <jobpatch/wire/secret_scrubber.hpp>

#include <doctest/doctest.h>

using jobpatch::secret_scrubber;

TEST_CASE("secret_scrubber removes every secret, in every spelling a server may echo") {
  secret_scrubber s;
  s.add("key-123/+\"x");
  s.add("tok-old-0001");
  s.add("tok-new-0002");
  CHECK(s.scrub("plain text") == "plain text");
  CHECK(s.scrub("Authorization: tok-old-0001\r\nX: tok-new-0002tok-new-0002") ==
        "Authorization: [redacted]\r\nX: [redacted][redacted]");
  CHECK(s.scrub(R"({"apiKey":"key-123/+\"x"})") == R"({"apiKey":"[redacted]"})");
  CHECK(s.scrub("apiKey=key-123%2F%2B%22x&") == "apiKey=[redacted]&");
  CHECK(s.scrub("key-123/+\"x") == "[redacted]");
}

TEST_CASE("secret_scrubber: a secret that contains another is removed whole") {
  secret_scrubber s;
  s.add("abcd");
  s.add("abcdefgh");
  CHECK(s.scrub("xabcdefghx abcd") == "x[redacted]x [redacted]");
}

TEST_CASE("secret_scrubber ignores secrets too short to scrub and text that holds the mask") {
  secret_scrubber s;
  s.add("t");
  s.add("");
  CHECK(s.scrub("the token t") == "the token t");
  s.add("redacted");
  CHECK(s.scrub("redacted") == "[redacted]");
}
