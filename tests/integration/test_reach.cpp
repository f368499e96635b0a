// Network reach: jobpatch through HTTP CONNECT proxies (our own, which records what it
// is asked, and Debian's tinyproxy), NO_PROXY, client certificates, extra headers and
// IPv6 literal base URLs, against jobpatch-mock with TLS verified end to end.

#include "../test_skip.hpp"
#include "apply_runner.hpp"
#include "connect_proxy.hpp"

#include <jobpatch/wire/proxy_config.hpp>

#include <doctest/doctest.h>

#include <unistd.h>

using namespace jobpatch::test;

namespace {

// The proxy variables a run sees unless a test sets them: none, whatever the machine
// running the tests has.
std::map<std::string, std::string> clean_environment() {
  return {{"BYTENITE_API_KEY", mock_test_key},
          {"https_proxy", ""},
          {"HTTPS_PROXY", ""},
          {"http_proxy", ""},
          {"HTTP_PROXY", ""},
          {"no_proxy", ""},
          {"NO_PROXY", ""}};
}

// `jobpatch apply MANIFEST --cacert CERT --base-url BASE args...` with `env` over
// clean_environment(); stderr in mock.path("apply.err").
int apply(const mock_process& mock, const std::string& manifest, const std::string& base,
          std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv = {
      JOBPATCH_BIN, "apply",     manifest,    "--base-url",          base,
      "--cacert",   mock.cert(), "--results", mock.path("r.ndjson"), "--force"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto environment = clean_environment();
  for (auto& [k, v] : env) environment[k] = v;
  child_process run(argv, environment, mock.path("apply.out"), mock.path("apply.err"));
  return run.wait(std::chrono::seconds(60));
}

std::string local_base(const mock_process& mock) {
  return "https://localhost:" + std::to_string(mock.port());
}

// JOBPATCH_TEST_MISSING=tinyproxy pretends it is not (tests/test_skip.hpp).
bool tinyproxy_installed() {
  return !pretend_missing("tinyproxy") && ::access("/usr/bin/tinyproxy", X_OK) == 0;
}

} // namespace

TEST_CASE("reach: HTTPS_PROXY tunnels every connection with Basic credentials") {
  mock_process mock;
  auto manifest = make_manifest(mock, "m.ndjson", 30, 10);
  std::string expected = "Basic " + jobpatch::base64_encode("proxy user:s3cr3t@pw");
  connect_proxy proxy({0, expected});
  std::string url = "http://proxy%20user:s3cr3t%40pw@127.0.0.1:" + std::to_string(proxy.port());
  int code =
      apply(mock, manifest, local_base(mock), {"--connections", "2"}, {{"HTTPS_PROXY", url}});
  std::string err = read_file(mock.path("apply.err"));
  CAPTURE(err);
  CHECK(code == 0);
  auto log = proxy.log();
  // The token exchange and the two workers' connections: every one through the tunnel.
  CHECK(log.connects >= 2);
  CHECK(log.tunnels == log.connects);
  std::string target = "localhost:" + std::to_string(mock.port());
  for (std::size_t i = 0; i < log.targets.size(); ++i) {
    CHECK(log.targets[i] == target);
    CHECK(log.hosts[i] == target);
    CHECK(log.authorizations[i] == expected);
  }
  CHECK(err.find("s3cr3t") == std::string::npos);
  CHECK(read_file(mock.path("r.ndjson")).find("s3cr3t") == std::string::npos);
}

TEST_CASE("reach: --proxy overrides HTTPS_PROXY, NO_PROXY and --no-proxy go direct") {
  mock_process mock;
  auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
  connect_proxy proxy;
  std::string dead = "http://127.0.0.1:1"; // nothing listens on port 1

  SUBCASE("--proxy over HTTPS_PROXY") {
    CHECK(apply(mock, manifest, local_base(mock), {"--proxy", proxy.url()},
                {{"HTTPS_PROXY", dead}}) == 0);
    CHECK(proxy.log().tunnels >= 1);
  }
  SUBCASE("lower-case https_proxy over HTTPS_PROXY") {
    CHECK(apply(mock, manifest, local_base(mock), {},
                {{"https_proxy", proxy.url()}, {"HTTPS_PROXY", dead}}) == 0);
    CHECK(proxy.log().tunnels >= 1);
  }
  SUBCASE("NO_PROXY=127.0.0.1") {
    std::string base = "https://127.0.0.1:" + std::to_string(mock.port());
    CHECK(apply(mock, manifest, base, {},
                {{"HTTPS_PROXY", proxy.url()}, {"NO_PROXY", "127.0.0.1"}}) == 0);
    CHECK(proxy.log().connects == 0);
  }
  SUBCASE("NO_PROXY applies to --proxy too") {
    CHECK(apply(mock, manifest, local_base(mock), {"--proxy", proxy.url()},
                {{"no_proxy", "example.com, .localhost,localhost"}}) == 0);
    CHECK(proxy.log().connects == 0);
  }
  SUBCASE("--no-proxy '*'") {
    CHECK(apply(mock, manifest, local_base(mock), {"--no-proxy", "*"}, {{"HTTPS_PROXY", dead}}) ==
          0);
  }
  SUBCASE("--no-proxy LIST overrides NO_PROXY") {
    CHECK(apply(mock, manifest, local_base(mock), {"--no-proxy", "example.com,localhost"},
                {{"HTTPS_PROXY", dead}, {"NO_PROXY", "example.com"}}) == 0);
    CHECK(apply(mock, manifest, local_base(mock), {"--proxy", proxy.url(), "--no-proxy", "x.org"},
                {{"NO_PROXY", "localhost"}}) == 0);
    CHECK(proxy.log().connects > 0);
  }
  SUBCASE("HTTP_PROXY is not used for https://") {
    CHECK(apply(mock, manifest, local_base(mock), {}, {{"HTTP_PROXY", dead}}) == 0);
  }
}

TEST_CASE("reach: a proxy asking for credentials (407) aborts at once, naming the proxy") {
  mock_process mock;
  auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
  connect_proxy proxy({0, "Basic " + jobpatch::base64_encode("u:right")});
  std::string url = "http://u:wr0ngpw@127.0.0.1:" + std::to_string(proxy.port());
  int code = apply(mock, manifest, local_base(mock), {}, {{"HTTPS_PROXY", url}});
  std::string err = read_file(mock.path("apply.err"));
  CAPTURE(err);
  CHECK(code == 3);
  CHECK(err.find("proxy authentication required at http://127.0.0.1:" +
                 std::to_string(proxy.port())) != std::string::npos);
  CHECK(err.find("wr0ngpw") == std::string::npos);
  CHECK(proxy.log().connects == 1); // not retried: the same credentials would fail again
  CHECK(mock.journal_records().empty());
}

TEST_CASE("reach: a proxy refusing the tunnel is named in the error, not the API") {
  for (int refusal : {403, 502, -1}) {
    CAPTURE(refusal);
    mock_process mock;
    auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
    connect_proxy proxy({refusal, ""});
    int code = apply(mock, manifest, local_base(mock), {"--proxy", proxy.url()});
    std::string err = read_file(mock.path("apply.err"));
    CAPTURE(err);
    CHECK(code == 3);
    CHECK(err.find("proxy " + proxy.url() + " (CONNECT localhost:" + std::to_string(mock.port()) +
                   ")") != std::string::npos);
    if (refusal > 0)
      CHECK(err.find("refused the tunnel: HTTP " + std::to_string(refusal)) != std::string::npos);
    else
      CHECK(err.find("closed or broke the connection") != std::string::npos);
    // Retried like a connection failure, then given up.
    CHECK(proxy.log().connects > 1);
    CHECK(mock.journal_records().empty());
  }
}

TEST_CASE("reach: through tinyproxy, with and without its credentials") {
  if (!tinyproxy_installed()) {
    skip("tinyproxy is not installed (scripts/install-deps.sh installs it)");
    return;
  }
  mock_process mock;
  auto manifest = make_manifest(mock, "m.ndjson", 20, 5);
  // tinyproxy reads its port from its configuration: take a free one, and another if a
  // different process took it meanwhile.
  std::unique_ptr<child_process> tinyproxy;
  unsigned short port = 0;
  for (int tries = 0; tries < 5 && !tinyproxy; ++tries) {
    port = free_port();
    write_file(mock.path("tinyproxy.conf"),
               "Port " + std::to_string(port) +
                   "\nListen 127.0.0.1\nTimeout 60\nMaxClients 32\nAllow 127.0.0.1\n"
                   "ConnectPort " +
                   std::to_string(mock.port()) + "\nBasicAuth tp-user tp-pass\n");
    auto child = std::make_unique<child_process>(
        std::vector<std::string>{"/usr/bin/tinyproxy", "-d", "-c", mock.path("tinyproxy.conf")},
        std::map<std::string, std::string>{}, mock.path("tinyproxy.out"),
        mock.path("tinyproxy.err"));
    if (wait_for_listener(port, std::chrono::seconds(10)) && child->running())
      tinyproxy = std::move(child);
  }
  REQUIRE(tinyproxy);
  std::string at = "@127.0.0.1:" + std::to_string(port);

  CHECK(apply(mock, manifest, local_base(mock), {"--proxy", "http://tp-user:tp-pass" + at}) == 0);
  CHECK(read_lines(mock.path("r.ndjson")).size() == 20);
  CHECK(check_applied_in_order(manifest, mock.journal()).empty());
  // tinyproxy logs each CONNECT it serves: the tunnel was used.
  CHECK(read_file(mock.path("tinyproxy.out")).find("CONNECT") != std::string::npos);

  int code = apply(mock, manifest, local_base(mock), {"--proxy", "http://tp-user:nope" + at});
  std::string err = read_file(mock.path("apply.err"));
  CAPTURE(err);
  CHECK(code == 3);
  CHECK(err.find("proxy authentication required at http://127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);
  CHECK(err.find("nope") == std::string::npos);
  // The continue hint repeats the command line, the proxy without its password.
  CHECK(err.find("--proxy 'http://[redacted]" + at + "'") != std::string::npos);
}

TEST_CASE("reach: -H headers reach the server on every request, User-Agent replaced") {
  mock_process mock({}, 20, false); // plain HTTP: the proxy reads the requests
  auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
  connect_proxy proxy;
  std::string base = "http://localhost:" + std::to_string(mock.port());
  int code = apply(mock, manifest, base,
                   {"--proxy", proxy.url(), "-H", "X-Trace-Id:  abc 123 ", "--header",
                    "user-agent: pipeline/7", "-H", "X-Gateway-Key: g4t3w4y-secret"},
                   {{"HTTP_PROXY", ""}});
  std::string err = read_file(mock.path("apply.err"));
  CAPTURE(err);
  CHECK(code == 0);
  std::string sent = proxy.log().tunnelled;
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = sent.find(what); at != std::string::npos; at = sent.find(what, at + 1)) ++n;
    return n;
  };
  std::size_t requests = count(" HTTP/1.1\r\n");
  CHECK(requests == 11); // the token exchange and 10 PATCHes
  CHECK(count("POST ") == 1);
  CHECK(count("\r\nX-Trace-Id: abc 123\r\n") == requests);
  CHECK(count("\r\nuser-agent: pipeline/7\r\n") == requests);
  CHECK(count("\r\nX-Gateway-Key: g4t3w4y-secret\r\n") == requests);
  CHECK(count("User-Agent: jobpatch/") == 0);
  CHECK(err.find("g4t3w4y-secret") == std::string::npos);
}

TEST_CASE("reach: the default User-Agent names the version") {
  mock_process mock({}, 20, false);
  auto manifest = make_manifest(mock, "m.ndjson", 3, 3);
  connect_proxy proxy;
  CHECK(apply(mock, manifest, "http://localhost:" + std::to_string(mock.port()),
              {"--proxy", proxy.url()}) == 0);
  CHECK(proxy.log().tunnelled.find("\r\nUser-Agent: jobpatch/" JOBPATCH_TEST_VERSION "\r\n") !=
        std::string::npos);
}

TEST_CASE("reach: headers jobpatch owns or that could inject are refused, nothing sent") {
  mock_process mock;
  auto manifest = make_manifest(mock, "m.ndjson", 3, 3);
  struct refusal {
    const char* header;
    const char* says;
  };
  for (auto [header, says] :
       {refusal{"Authorization: Bearer x", "access token"},
        refusal{"host: evil.example", "Host cannot be set"},
        refusal{"Content-Length: 5", "cannot be set"},
        refusal{"Transfer-Encoding: chunked", "cannot be set"},
        refusal{"Connection: close", "cannot be set"},
        refusal{"X-A: b\r\nX-Injected: 1", "control character"},
        refusal{"X A: b", "must be a token"}, refusal{"NoColon", "Name: value"}}) {
    CAPTURE(header);
    CHECK(apply(mock, manifest, local_base(mock), {"-H", header}) == 2);
    std::string err = read_file(mock.path("apply.err"));
    CAPTURE(err);
    CHECK(err.find(says) != std::string::npos);
  }
  CHECK(mock.journal_records().empty());
  CHECK(mock.stats().at("tokensIssued").as_int64() == 0);
}

namespace {

// A CA and a client certificate it signed, made with the openssl command in `dir`:
// <name>-ca.pem, <name>.pem, <name>.key (plain) and <name>-enc.key (AES, passphrase
// "correct horse").
void make_client_identity(const mock_process& mock, const std::string& name) {
  auto openssl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    child_process run(args, {}, mock.path("openssl.out"), mock.path("openssl.err"));
    REQUIRE_MESSAGE(run.wait(std::chrono::seconds(30)) == 0, read_file(mock.path("openssl.err")));
  };
  std::string p = mock.path(name);
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", p + "-ca.key", "-out", p + "-ca.pem", "-days", "2", "-subj",
           "/CN=" + name + " test CA"});
  openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", p + ".key", "-out", p + ".csr", "-subj", "/CN=" + name + " client"});
  openssl({"x509", "-req", "-in", p + ".csr", "-CA", p + "-ca.pem", "-CAkey", p + "-ca.key",
           "-CAcreateserial", "-out", p + ".pem", "-days", "2"});
  openssl({"pkey", "-in", p + ".key", "-aes256", "-passout", "pass:correct horse", "-out",
           p + "-enc.key"});
}

} // namespace

TEST_CASE("reach: client certificates, accepted, missing, wrong, encrypted, mismatched") {
  // The identities are made before the mock that must trust one of them starts.
  mock_process maker({}, 1);
  make_client_identity(maker, "good");
  make_client_identity(maker, "other");
  mock_process mock({"--client-ca", maker.path("good-ca.pem")}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
  std::string cert = maker.path("good.pem"), key = maker.path("good.key");
  auto err = [&] { return read_file(mock.path("apply.err")); };

  SUBCASE("accepted") {
    CHECK(apply(mock, manifest, local_base(mock), {"--cert", cert, "--key", key}) == 0);
    CHECK(read_lines(mock.path("r.ndjson")).size() == 10);
  }
  SUBCASE("encrypted key with --key-password-file") {
    write_file(mock.path("pass"), "correct horse\n");
    CHECK(apply(mock, manifest, local_base(mock),
                {"--cert", cert, "--key", maker.path("good-enc.key"), "--key-password-file",
                 mock.path("pass")}) == 0);
  }
  SUBCASE("missing") {
    CHECK(apply(mock, manifest, local_base(mock), {}) == 3);
    CAPTURE(err());
    CHECK(err().find("requires a client certificate") != std::string::npos);
    CHECK(mock.journal_records().empty());
  }
  SUBCASE("signed by another CA") {
    CHECK(apply(mock, manifest, local_base(mock),
                {"--cert", maker.path("other.pem"), "--key", maker.path("other.key")}) == 3);
    CAPTURE(err());
    CHECK(err().find("refused the client certificate") != std::string::npos);
    CHECK(mock.journal_records().empty());
  }
  SUBCASE("encrypted key without a passphrase: refused, never asked") {
    CHECK(apply(mock, manifest, local_base(mock),
                {"--cert", cert, "--key", maker.path("good-enc.key")}) == 2);
    CAPTURE(err());
    CHECK(err().find("is encrypted") != std::string::npos);
    CHECK(err().find("--key-password-file") != std::string::npos);
  }
  SUBCASE("wrong passphrase") {
    write_file(mock.path("pass"), "wrong horse\n");
    CHECK(apply(mock, manifest, local_base(mock),
                {"--cert", cert, "--key", maker.path("good-enc.key"), "--key-password-file",
                 mock.path("pass")}) == 2);
    CAPTURE(err());
    CHECK(err().find("cannot decrypt") != std::string::npos);
    CHECK(err().find("wrong horse") == std::string::npos);
  }
  SUBCASE("key of another certificate") {
    CHECK(apply(mock, manifest, local_base(mock),
                {"--cert", cert, "--key", maker.path("other.key")}) == 2);
    CAPTURE(err());
    CHECK(err().find("does not belong to the certificate") != std::string::npos);
  }
}

TEST_CASE("reach: an IPv6 literal base URL, direct and through a proxy") {
  mock_process mock({"--host", "::1"}, 20);
  auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
  std::string base = "https://[::1]:" + std::to_string(mock.port());
  // The certificate is checked against the address (its SAN holds IP:::1).
  CHECK(apply(mock, manifest, base, {}) == 0);
  CAPTURE(read_file(mock.path("apply.err")));
  CHECK(mock.journal_records().size() == 10);

  connect_proxy proxy;
  CHECK(apply(mock, manifest, base, {}, {{"HTTPS_PROXY", proxy.url()}}) == 0);
  auto log = proxy.log();
  REQUIRE(log.connects >= 1);
  CHECK(log.tunnels == log.connects);
  CHECK(log.targets.front() == "[::1]:" + std::to_string(mock.port()));
  CHECK(mock.journal_records().size() == 20);

  // NO_PROXY names the address in brackets, with the port.
  CHECK(apply(mock, manifest, base, {},
              {{"HTTPS_PROXY", proxy.url()},
               {"NO_PROXY", "[::1]:" + std::to_string(mock.port())}}) == 0);
  CHECK(proxy.log().connects == log.connects);
}

TEST_CASE("reach: bench takes the same proxy and header options") {
  mock_process mock({}, 20, false);
  auto manifest = make_manifest(mock, "m.ndjson", 10, 5);
  connect_proxy proxy;
  std::vector<std::string> argv = {JOBPATCH_BIN,
                                   "bench",
                                   manifest,
                                   "--base-url",
                                   "http://localhost:" + std::to_string(mock.port()),
                                   "--rate",
                                   "40",
                                   "--duration",
                                   "0.5",
                                   "--connections",
                                   "2",
                                   "-H",
                                   "X-Bench: yes"};
  auto environment = clean_environment();
  environment["HTTP_PROXY"] = proxy.url();
  child_process run(argv, environment, mock.path("bench.out"), mock.path("bench.err"));
  int code = run.wait(std::chrono::seconds(30));
  CAPTURE(read_file(mock.path("bench.err")));
  CHECK(code == 0);
  auto log = proxy.log();
  CHECK(log.tunnels >= 2); // the token exchange and at least one worker
  CHECK(log.tunnelled.find("\r\nX-Bench: yes\r\n") != std::string::npos);
}
