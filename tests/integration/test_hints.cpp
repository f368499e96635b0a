// Errors an operator meets first, each naming its cause and the fix (issue 25): CLI11's
// refusals in our words, a compressed or binary manifest, a directory for a manifest, a
// --base-url scheme the server does not speak, a certificate no CA of ours vouches for.

#include "apply_runner.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace jobpatch::test;
using namespace std::chrono_literals;

namespace {

// Runs `jobpatch args` (no server: everything here is refused before one is needed) and
// returns its stderr; `code` gets the exit code.
std::string stderr_of(const temp_dir& dir, std::vector<std::string> args, int& code) {
  std::vector<std::string> argv = {JOBPATCH_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  child_process run(argv, {{"BYTENITE_API_KEY", "k"}}, dir.path("out"), dir.path("err"));
  code = run.wait(30s);
  return read_file(dir.path("err"));
}

// A TCP server of our own on 127.0.0.1 (a free port), on its own thread: it keeps the
// first bytes of each connection, writes `answer` (nothing when empty) and closes it.
class scripted_listener {
public:
  explicit scripted_listener(std::string answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t size = sizeof address;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~scripted_listener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  scripted_listener(const scripted_listener&) = delete;
  scripted_listener& operator=(const scripted_listener&) = delete;

  unsigned short port() const { return port_; }
  std::vector<std::string> first_bytes() const {
    std::lock_guard lock(mutex_);
    return first_bytes_;
  }

private:
  // Waits for `fd` to be readable, checking stop_ every 50 ms; false once stopped.
  bool readable(int fd) const {
    pollfd p{fd, POLLIN, 0};
    while (!stop_)
      if (::poll(&p, 1, 50) > 0) return true;
    return false;
  }
  void serve() {
    while (readable(fd_)) {
      int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) continue;
      char bytes[4096];
      ssize_t n = readable(connection) ? ::read(connection, bytes, sizeof bytes) : 0;
      {
        std::lock_guard lock(mutex_);
        first_bytes_.emplace_back(bytes, static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
      }
      if (!answer_.empty()) (void)::send(connection, answer_.data(), answer_.size(), MSG_NOSIGNAL);
      ::close(connection);
    }
  }

  std::string answer_;
  int fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<std::string> first_bytes_;
  std::thread thread_;
};

// How `jobpatch apply` ended: its exit code, its stderr, how long it took.
struct run_result {
  int code = -1;
  std::string err;
  std::chrono::steady_clock::duration took{};
};

// `jobpatch apply m.ndjson --base-url URL` plus `args`, the key in the environment.
run_result apply_to(const temp_dir& dir, const std::string& url, std::vector<std::string> args) {
  write_file(dir.path("m.ndjson"), R"({"jobId":"job-0000001","op":"jobname","body":"a"})"
                                   "\n");
  std::vector<std::string> argv = {JOBPATCH_BIN, "apply", dir.path("m.ndjson"), "--base-url", url};
  argv.insert(argv.end(), args.begin(), args.end());
  auto start = std::chrono::steady_clock::now();
  child_process run(argv, {{"BYTENITE_API_KEY", mock_test_key}}, dir.path("out"), dir.path("err"));
  run_result r;
  r.code = run.wait(60s);
  r.took = std::chrono::steady_clock::now() - start;
  r.err = read_file(dir.path("err"));
  return r;
}

// The first line of what `jobpatch args` says when it refuses them (exit 2).
std::string refusal(const temp_dir& dir, std::vector<std::string> args) {
  int code = 0;
  std::string err = stderr_of(dir, args, code);
  INFO(err);
  CHECK(code == 2);
  return err.substr(0, err.find('\n'));
}

} // namespace

TEST_CASE("hints: CLI11's refusals are said in our words, naming the option and the value") {
  temp_dir dir;
  std::string m = dir.path("m.ndjson");
  write_file(m, R"({"jobId":"j","op":"jobname","body":"a"})"
                "\n");
  CHECK(refusal(dir, {"apply", m, "--rate", "abc"}) == "jobpatch: --rate: \"abc\" is not a number");
  CHECK(refusal(dir, {"apply", m, "--rate=fast"}) == "jobpatch: --rate: \"fast\" is not a number");
  CHECK(refusal(dir, {"apply", m, "--connections", "0"}) ==
        "jobpatch: --connections: 0 must be from 1 to 4096");
  CHECK(refusal(dir, {"apply", m, "--connections", "many"}) ==
        "jobpatch: --connections: \"many\" is not a whole number from 1 to 4096, or auto[:MAX]");
  CHECK(refusal(dir, {"apply", m, "--connections", "auto:0"}) ==
        "jobpatch: --connections auto:MAX: 0 must be from 1 to 4096");
  CHECK(refusal(dir, {"apply", m, "--connections", "auto:x"}) ==
        "jobpatch: --connections auto:MAX: \"x\" is not a whole number from 1 to 4096");
  CHECK(refusal(dir, {"bench", m, "--rate", "10", "--duration", "1", "--connections", "auto"}) ==
        "jobpatch: --connections: \"auto\" is not a whole number from 1 to 4096");
  CHECK(refusal(dir, {"apply", m, "--timeout", "-1"}) == "jobpatch: --timeout: -1 must be more "
                                                         "than 0");
  CHECK(refusal(dir, {"apply", m, "--deadline", "-3"}) == "jobpatch: --deadline: -3 must be 0 or "
                                                          "more");
  CHECK(refusal(dir, {"apply", m, "--timeout", "1e999"}) == "jobpatch: --timeout: 1e999 is too "
                                                            "large");
  CHECK(refusal(dir, {"apply", m, "--progress", "sometimes"}) ==
        "jobpatch: --progress: \"sometimes\" must be one of auto, always, never");
  CHECK(refusal(dir, {"validate", m, "--max-line-bytes", "-5"}) ==
        "jobpatch: --max-line-bytes: \"-5\" is not a whole number from 1 to 1073741824");
  CHECK(refusal(dir, {"apply", m, "--rate"}) == "jobpatch: --rate needs a number");
  CHECK(refusal(dir, {"apply", m, "-H"}) == "jobpatch: --header needs a value");
  CHECK(refusal(dir, {"apply", m, "--ids", m}) == "jobpatch: pass a manifest or --ids, not both");
  CHECK(refusal(dir, {"apply", "--ids", m, m}) == "jobpatch: pass a manifest or --ids, not both");
  CHECK(refusal(dir, {"apply", m, "--op", "jobname"}) ==
        "jobpatch: --op goes with --ids FILE (a list of job ids): a manifest's lines carry their "
        "own op");
  CHECK(refusal(dir, {"apply", m, "b", "c"}) ==
        "jobpatch: unexpected arguments \"b\" \"c\" (apply takes one manifest, or --ids)");
  CHECK(refusal(dir, {"bench", m, "--rate", "10", "--duration", "soon"}) ==
        "jobpatch: --duration: \"soon\" is not a number above 0");
  CHECK(refusal(dir, {"frobnicate"}) == "jobpatch: unknown subcommand frobnicate (expected "
                                        "validate, apply, plan, bench, merge, control)");
  // The usage line still follows, and what CLI11 says well is left as it is.
  int code = 0;
  CHECK(stderr_of(dir, {"apply", m, "--rate", "abc"}, code)
            .ends_with("\nRun jobpatch --help for more information.\n"));
  CHECK(refusal(dir, {"apply", m, "--conections", "3"}) ==
        "jobpatch: unknown option --conections for apply (did you mean --connections?)");
}

TEST_CASE("hints: a gzip manifest is named after its first line, its other lines counted") {
  temp_dir dir;
  std::string manifest;
  for (int i = 1; i <= 3000; ++i)
    manifest += R"({"jobId":"job-)" + std::to_string(i) +
                R"(","op":"jobname","body":"a"})"
                "\n";
  write_file(dir.path("m.ndjson"), manifest);
  child_process gzip({"/bin/sh", "-c", "gzip -c \"$0\" > \"$0.gz\"", dir.path("m.ndjson")});
  REQUIRE(gzip.wait(30s) == 0);
  const std::string named = "; the manifest looks gzip-compressed: decompress it first, e.g. zcat "
                            "FILE | jobpatch apply -\n";
  // validate, and apply's validation of a file: line 1 and the count, not a line per line.
  for (std::vector<std::string> args :
       {std::vector<std::string>{"validate", dir.path("m.ndjson.gz")},
        std::vector<std::string>{"apply", dir.path("m.ndjson.gz"), "--base-url",
                                 "https://127.0.0.1:1"}}) {
    int code = 0;
    std::string err = stderr_of(dir, args, code);
    INFO(err);
    CHECK(code == 2);
    CHECK(err.starts_with("line 1: "));
    CHECK(err.find(named) != std::string::npos);
    CHECK(err.find("line 2:") == std::string::npos);
    CHECK(err.find("\n... and ") != std::string::npos);
    CHECK(std::count(err.begin(), err.end(), '\n') <= 3);
  }
  // Standard input redirected from it: validated first too, named the same.
  child_process run({"/bin/sh", "-c", "exec \"$@\" < \"$0\"", dir.path("m.ndjson.gz"), JOBPATCH_BIN,
                     "apply", "-", "--base-url", "https://127.0.0.1:1"},
                    {{"BYTENITE_API_KEY", "k"}}, dir.path("out"), dir.path("err"));
  CHECK(run.wait(30s) == 2);
  std::string err = read_file(dir.path("err"));
  CHECK(err.find(named) != std::string::npos);
  CHECK(err.find("line 2:") == std::string::npos);
}

TEST_CASE("hints: a directory given as the manifest is named by every command") {
  temp_dir dir;
  for (const char* command : {"validate", "apply", "plan", "bench"}) {
    INFO(command);
    std::vector<std::string> args = {command, "/tmp", "--base-url", "https://127.0.0.1:1"};
    if (std::string(command) == "validate") args.resize(2);
    if (std::string(command) == "bench")
      args.insert(args.end(), {"--rate", "1", "--duration", "1"});
    CHECK(refusal(dir, args) == "jobpatch: the manifest /tmp is a directory; name an NDJSON file");
  }
}

TEST_CASE("hints: http:// against a TLS server is named at once, not after 16 s of retries") {
  mock_process mock({}, 5); // TLS: OpenSSL closes on a plain request without a word
  temp_dir dir;
  auto r =
      apply_to(dir, "http://127.0.0.1:" + std::to_string(mock.port()), {"--cacert", mock.cert()});
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find("aborted: the server speaks TLS: use https:// in --base-url\n") !=
        std::string::npos);
  CHECK(r.took < 10s); // 15.4 s of token retries before, ending "read: end of stream"
  // bench too.
  child_process bench({JOBPATCH_BIN, "bench", dir.path("m.ndjson"), "--rate", "10", "--duration",
                       "1", "--base-url", "http://127.0.0.1:" + std::to_string(mock.port())},
                      {{"BYTENITE_API_KEY", mock_test_key}}, dir.path("out"),
                      dir.path("bench.err"));
  CHECK(bench.wait(60s) == 3);
  CHECK(read_file(dir.path("bench.err")).find("the server speaks TLS: use https://") !=
        std::string::npos);
  mock.stop();
  CHECK(read_lines(mock.journal()).empty());
}

TEST_CASE("hints: a TLS server's alert where an HTTP answer belongs is named too") {
  // A TLS stack that answers a plain request with an alert (protocol_version).
  scripted_listener tls_alert(std::string("\x15\x03\x01\x00\x02\x02\x46", 7));
  temp_dir dir;
  auto r = apply_to(dir, "http://127.0.0.1:" + std::to_string(tls_alert.port()), {});
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find("aborted: the server speaks TLS: use https:// in --base-url\n") !=
        std::string::npos);
  CHECK(tls_alert.first_bytes().size() == 1); // named from its answer: no second connection
}

TEST_CASE("hints: a plain server that hangs up is asked in TLS once, and not misnamed") {
  scripted_listener silent("");
  temp_dir dir;
  auto r = apply_to(dir, "http://127.0.0.1:" + std::to_string(silent.port()), {"--deadline", "1"});
  INFO(r.err);
  CHECK(r.code == 1); // the token exchange retried until the deadline: not sent
  CHECK(r.err.find("speaks") == std::string::npos);
  auto firsts = silent.first_bytes();
  REQUIRE(firsts.size() >= 2);
  CHECK(firsts[0].starts_with("POST /v1/auth/access_token HTTP/1.1\r\n"));
  CHECK(firsts[1].starts_with("\x16\x03")); // the TLS hello that asked
  // One hello per connection of the run, however many times the token exchange retried.
  CHECK(std::count_if(firsts.begin(), firsts.end(),
                      [](const std::string& b) { return b.starts_with("\x16\x03"); }) == 1);
}

TEST_CASE("hints: https:// against a plain HTTP server is named: use http://") {
  mock_process plain({}, 5, false);
  temp_dir dir;
  auto r = apply_to(dir, "https://127.0.0.1:" + std::to_string(plain.port()), {});
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find("aborted: the server speaks plain HTTP: use http:// in --base-url\n") !=
        std::string::npos); // it said "TLS handshake: wrong version number"
  plain.stop();
  CHECK(read_lines(plain.journal()).empty());
}

TEST_CASE("hints: a self-signed server without --cacert is told to pass --cacert FILE") {
  mock_process mock({}, 5);
  temp_dir dir;
  auto r = apply_to(dir, "https://localhost:" + std::to_string(mock.port()), {});
  INFO(r.err);
  CHECK(r.code == 3);
  CHECK(r.err.find("TLS certificate verification failed for localhost: self-signed certificate: "
                   "pass --cacert FILE with the certificate of the CA that issued it (for a "
                   "self-signed server, its own certificate)\n") != std::string::npos);
  // With it, the same run goes through.
  CHECK(apply_to(dir, "https://localhost:" + std::to_string(mock.port()), {"--cacert", mock.cert()})
            .code == 0);
}
