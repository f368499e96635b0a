#include <jobpatch/wire/proxy_config.hpp>

#include <doctest/doctest.h>

#include <stdexcept>

using namespace jobpatch;

TEST_CASE("proxy_config: proxy URLs") {
  auto p = parse_proxy_url("http://proxy.corp:3128", "--proxy");
  CHECK(p.host == "proxy.corp");
  CHECK(p.port == "3128");
  CHECK(p.authorization.empty());
  CHECK(p.display() == "http://proxy.corp:3128");

  // No scheme is http://; no port is curl's 1080; a trailing slash is allowed.
  p = parse_proxy_url("proxy.corp", "HTTPS_PROXY");
  CHECK(p.display() == "http://proxy.corp:1080");
  CHECK(parse_proxy_url("HTTP://10.0.0.1:8080/", "x").display() == "http://10.0.0.1:8080");

  // IPv6 literal: no brackets in host, brackets in display.
  p = parse_proxy_url("http://[::1]:3128", "x");
  CHECK(p.host == "::1");
  CHECK(p.display() == "http://[::1]:3128");

  // Credentials percent-decoded into Basic; never in display().
  p = parse_proxy_url("http://us%65r:p%40ss%3Aw@proxy:3128", "--proxy");
  CHECK(p.password == "p@ss:w");
  CHECK(p.authorization == "Basic " + base64_encode("user:p@ss:w"));
  CHECK(p.display() == "http://proxy:3128");
  // The RFC 7617 example.
  CHECK(parse_proxy_url("http://Aladdin:open%20sesame@h:1", "x").authorization ==
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST_CASE("proxy_config: unusable proxy URLs are refused without quoting the password") {
  for (const char* bad :
       {"https://u:s3cret@proxy:443", "socks5://u:s3cret@proxy:1080", "http://u:s3cret@proxy:0",
        "http://u:s3cret@proxy:99999", "http://u:s3cret@proxy:3128/path",
        "http://u:s3cret@proxy:3128?q", "http://u:s3cret@:3128"}) {
    CAPTURE(bad);
    try {
      parse_proxy_url(bad, "HTTPS_PROXY");
      FAIL("accepted");
    } catch (const std::invalid_argument& e) {
      std::string what = e.what();
      CHECK(what.starts_with("HTTPS_PROXY: "));
      CHECK(what.find("s3cret") == std::string::npos);
    }
  }
}

TEST_CASE("proxy_config: base64") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("\xff\xfe\xfd") == "//79");
}

TEST_CASE("proxy_config: NO_PROXY names") {
  CHECK(no_proxy_matches("*", "anything.example", "443"));
  CHECK(no_proxy_matches("a.b, *", "x", "443"));
  CHECK_FALSE(no_proxy_matches("", "api.example.com", "443"));
  // Suffix match with or without the leading dot, whole labels only.
  for (const char* entry : {"example.com", ".example.com", "*.example.com", "EXAMPLE.com."}) {
    CAPTURE(entry);
    CHECK(no_proxy_matches(entry, "api.example.com", "443"));
    CHECK(no_proxy_matches(entry, "example.com", "443"));
    CHECK(no_proxy_matches(entry, "API.Example.COM.", "443"));
    CHECK_FALSE(no_proxy_matches(entry, "badexample.com", "443"));
    CHECK_FALSE(no_proxy_matches(entry, "example.com.evil", "443"));
  }
  // Lists: commas, spaces, empty entries.
  CHECK(no_proxy_matches("localhost,, internal.corp  example.com", "api.example.com", "443"));
  CHECK(no_proxy_matches("localhost,internal.corp", "localhost", "80"));
  CHECK_FALSE(no_proxy_matches("localhost,internal.corp", "api.example.com", "443"));
  // Ports: an entry with a port matches that port only.
  CHECK(no_proxy_matches("example.com:8443", "api.example.com", "8443"));
  CHECK_FALSE(no_proxy_matches("example.com:8443", "api.example.com", "443"));
  // A name never matches an address, nor an address a name.
  CHECK_FALSE(no_proxy_matches("localhost", "127.0.0.1", "443"));
  CHECK_FALSE(no_proxy_matches("127.0.0.1", "localhost", "443"));
  CHECK_FALSE(no_proxy_matches("0.1", "127.0.0.1", "443"));
}

TEST_CASE("proxy_config: NO_PROXY addresses and ranges") {
  CHECK(no_proxy_matches("127.0.0.1", "127.0.0.1", "443"));
  CHECK_FALSE(no_proxy_matches("127.0.0.2", "127.0.0.1", "443"));
  CHECK(no_proxy_matches("127.0.0.1:8443", "127.0.0.1", "8443"));
  CHECK_FALSE(no_proxy_matches("127.0.0.1:8443", "127.0.0.1", "443"));
  // IPv6: bracketed or not, any spelling of the same address.
  CHECK(no_proxy_matches("::1", "::1", "443"));
  CHECK(no_proxy_matches("[::1]", "::1", "443"));
  CHECK(no_proxy_matches("0:0:0:0:0:0:0:1", "::1", "443"));
  CHECK(no_proxy_matches("[::1]:8443", "::1", "8443"));
  CHECK_FALSE(no_proxy_matches("[::1]:8443", "::1", "443"));
  CHECK_FALSE(no_proxy_matches("::2", "::1", "443"));
  // CIDR.
  CHECK(no_proxy_matches("10.0.0.0/8", "10.200.3.4", "443"));
  CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "11.0.0.1", "443"));
  CHECK(no_proxy_matches("192.168.1.0/23", "192.168.0.77", "443"));
  CHECK_FALSE(no_proxy_matches("192.168.1.0/24", "192.168.0.77", "443"));
  CHECK(no_proxy_matches("fd00::/8", "fd12:3456::1", "443"));
  CHECK(no_proxy_matches("[::1]/128", "::1", "443"));
  CHECK_FALSE(no_proxy_matches("fd00::/8", "fe80::1", "443"));
  CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "ten.example", "443"));
  CHECK_FALSE(no_proxy_matches("10.0.0.0/33", "10.0.0.1", "443"));
  CHECK_FALSE(no_proxy_matches("10.0.0.0/x", "10.0.0.1", "443"));
  CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "::ffff:10.0.0.1", "443"));
}

TEST_CASE("proxy_config: which proxy a server gets") {
  proxy_settings s;
  CHECK_FALSE(select_proxy(s, true, "api.example.com", "443"));
  s.https_proxy = "http://secure-proxy:3128";
  s.http_proxy = "http://plain-proxy:3128";
  CHECK(select_proxy(s, true, "api.example.com", "443")->host == "secure-proxy");
  CHECK(select_proxy(s, false, "api.example.com", "80")->host == "plain-proxy");
  s.no_proxy_list = ".example.com";
  CHECK_FALSE(select_proxy(s, true, "api.example.com", "443"));
  CHECK(select_proxy(s, true, "api.other.org", "443"));
  // --proxy overrides the variables; NO_PROXY still applies (as in curl).
  s.proxy_url = "cli-proxy:8080";
  CHECK(select_proxy(s, true, "api.other.org", "443")->host == "cli-proxy");
  CHECK_FALSE(select_proxy(s, true, "api.example.com", "443"));
  // --no-proxy '*' (or NO_PROXY=*) wins over everything.
  s.no_proxy_list = "*";
  CHECK_FALSE(select_proxy(s, true, "api.other.org", "443"));
  // A bad variable is refused naming the variable.
  proxy_settings bad;
  bad.https_proxy = "ftp://x";
  CHECK_THROWS_WITH_AS(select_proxy(bad, true, "h", "443"), doctest::Contains("HTTPS_PROXY"),
                       std::invalid_argument);
  // ...but only when it would be used.
  CHECK_FALSE(select_proxy(bad, false, "h", "80"));
}

TEST_CASE("proxy_config: CONNECT request") {
  proxy_endpoint p = parse_proxy_url("http://u:pw@proxy:3128", "x");
  CHECK(connect_request(p, "api.example.com", "443", "jobpatch/1") ==
        "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
        "Proxy-Authorization: Basic dTpwdw==\r\nUser-Agent: jobpatch/1\r\n\r\n");
  p = parse_proxy_url("http://proxy:3128", "x");
  CHECK(connect_request(p, "::1", "8443", "ua") ==
        "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nUser-Agent: ua\r\n\r\n");
}

TEST_CASE("proxy_config: a proxy URL fit to print") {
  CHECK(redacted_proxy_url("http://u:pw@proxy:3128") == "http://[redacted]@proxy:3128");
  CHECK(redacted_proxy_url("u:pw@[::1]:3128") == "http://[redacted]@[::1]:3128");
  CHECK(redacted_proxy_url("http://proxy:3128") == "http://proxy:3128");
  CHECK(redacted_proxy_url("http://u:pw@proxy:3128 x") == "[redacted]");
}
