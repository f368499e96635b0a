// jobpatch apply against hostile servers: each answers the token exchange normally and
// then misbehaves on every PATCH (garbage, a 100 MB body, a body without end, a body far
// longer than its Content-Length, headers without end, a slowloris trickle), or presents
// a certificate for another name or an expired one. Every run must end, with the lines
// failed (exit 1) or the run aborted (exit 3, naming the problem), a clear error per
// line, and bounded memory.

#include "apply_runner.hpp"
#include "child_process.hpp"
#include "hostile_server.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

using namespace jobpatch::test;
namespace json = boost::json;

namespace {

constexpr long max_peak_rss_kb = 100 * 1024; // 100 MB

// Under AddressSanitizer (scripts/test-sanitizers.sh; the jobpatch child comes from the
// same build) peak RSS says nothing about jobpatch: ASan holds up to 256 MB of freed
// memory in quarantine and adds shadow memory (the endless-body case peaked at 395 MB).
// The ceiling is checked by the uninstrumented suite (scripts/test.sh); the sanitized
// pass still runs every case, for memory errors in handling the hostile answers.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rss_ceiling_applies = false;
#else
constexpr bool rss_ceiling_applies = true;
#endif

struct hostile_run {
  measured_run run;
  std::string err;
  std::vector<json::object> records;
};

// `lines` updates of distinct jobs through `server` with `connections` connections.
hostile_run apply_against(const hostile_server& server, unsigned lines, unsigned connections,
                          std::vector<std::string> extra = {}) {
  temp_dir dir;
  std::string manifest;
  for (unsigned i = 1; i <= lines; ++i)
    manifest += R"({"jobId":"job-)" + std::to_string(1000000 + i) +
                R"(","op":"jobname","body":"n"})"
                "\n";
  write_file(dir.path("m.ndjson"), manifest);
  write_file(dir.path("cert.pem"), server.certificate_pem());
  std::vector<std::string> args = {
      "--connections", std::to_string(connections), "--max-attempts", "2", "--timeout", "2",
      "--results",     dir.path("r.ndjson")};
  args.insert(args.end(), extra.begin(), extra.end());
  auto argv = jobpatch_argv(server.port(), dir.path("cert.pem"), "apply", dir.path("m.ndjson"),
                            std::move(args));
  hostile_run out;
  out.run = run_measured(argv, {{"BYTENITE_API_KEY", "hostile-test-key"}}, dir.path("out"),
                         dir.path("err"), std::chrono::seconds(90));
  out.err = read_file(dir.path("err"));
  for (const auto& line : read_lines(dir.path("r.ndjson")))
    out.records.push_back(json::parse(line).as_object());
  return out;
}

// The PATCH-level cases: every line failed with an error, exit 1, memory bounded.
void check_lines_failed(hostile_mode mode, std::string name, unsigned lines, unsigned connections,
                        std::string_view expected_error) {
  hostile_server server({.mode = mode});
  auto r = apply_against(server, lines, connections);
  INFO(name << ": " << r.err);
  MESSAGE(name << ": exit " << r.run.code << " after " << r.run.seconds << " s, peak RSS "
               << r.run.peak_rss_kb / 1024 << " MB with " << connections << " connections, "
               << server.hostile_answers() << " hostile answers; first error: "
               << (r.records.empty() ? std::string("-")
                                     : std::string(r.records[0]["error"].as_string())));
  CHECK(r.run.code == 1);
  CHECK(server.token_requests() >= 1);
  CHECK(server.hostile_answers() >= lines);
  if (rss_ceiling_applies) CHECK(r.run.peak_rss_kb < max_peak_rss_kb);
  REQUIRE(r.records.size() == lines);
  for (auto& record : r.records) {
    CHECK(record["outcome"].as_string() == "failed");
    std::string error(record["error"].as_string());
    INFO(error);
    CHECK(error.find(expected_error) != std::string::npos);
  }
}

} // namespace

TEST_CASE("hostile server: garbage bytes instead of an answer") {
  check_lines_failed(hostile_mode::garbage, "garbage", 8, 4, "malformed HTTP answer: bad version");
}

TEST_CASE("hostile server: a 100 MB body (Content-Length 100000000)") {
  check_lines_failed(hostile_mode::huge_body, "100 MB body", 8, 16,
                     "answer too large: body over 2 MiB");
}

TEST_CASE("hostile server: a chunked body without end") {
  // Each connection may buffer up to http_connection::max_body_bytes (2 MiB) at once:
  // 16 connections stay well under the ceiling.
  check_lines_failed(hostile_mode::endless_body, "endless chunked body", 16, 16,
                     "answer too large: body over 2 MiB");
}

TEST_CASE("hostile server: a body far longer than its Content-Length") {
  check_lines_failed(hostile_mode::overlong_body, "overlong body", 8, 4, "not a JSON object");
}

TEST_CASE("hostile server: headers without end") {
  check_lines_failed(hostile_mode::endless_headers, "endless headers", 8, 4,
                     "answer too large: status line and headers over 64 KiB");
}

TEST_CASE("hostile server: a slowloris answer, one byte per 500 ms") {
  check_lines_failed(hostile_mode::slowloris, "slowloris", 4, 4, "timeout");
}

// The connection's watchdog bounds the handshake as it bounds the exchange.
TEST_CASE("hostile server: a TLS handshake that never completes ends in a timeout") {
  hostile_server server({.mode = hostile_mode::ok, .stall_later_handshakes = true});
  auto r = apply_against(server, 2, 2);
  INFO(r.err);
  CHECK(r.run.code == 1);
  CHECK(server.token_requests() == 1);
  REQUIRE(r.records.size() == 2);
  for (auto& record : r.records) {
    CHECK(record["outcome"].as_string() == "failed");
    std::string error(record["error"].as_string());
    INFO(error);
    CHECK(error.find("TLS handshake") != std::string::npos);
    CHECK(error.find("timeout") != std::string::npos);
  }
}

TEST_CASE("hostile server: a certificate for another name aborts the run, exit 3") {
  hostile_server server({.mode = hostile_mode::garbage, .certificate_name = "other.example"});
  auto r = apply_against(server, 8, 4);
  INFO(r.err);
  MESSAGE("wrong name: exit " << r.run.code << " after " << r.run.seconds << " s: " << r.err);
  CHECK(r.run.code == 3);
  CHECK(r.run.seconds < 10);
  CHECK(r.err.find("certificate") != std::string::npos);
  // It names the problem (it said "unspecified certificate verification error" when the
  // name was checked in a verify callback).
  CHECK(r.err.find("hostname mismatch") != std::string::npos);
  CHECK(server.hostile_answers() == 0);
}

TEST_CASE("hostile server: an expired certificate aborts the run, exit 3") {
  hostile_server server({.mode = hostile_mode::garbage, .expired = true});
  auto r = apply_against(server, 8, 4);
  INFO(r.err);
  MESSAGE("expired: exit " << r.run.code << " after " << r.run.seconds << " s: " << r.err);
  CHECK(r.run.code == 3);
  CHECK(r.run.seconds < 10);
  CHECK(r.err.find("expired") != std::string::npos);
  CHECK(server.hostile_answers() == 0);
}

// Issue 24: framing that never ends, at full speed. The parts of an answer the parser must
// see whole before it can go on (the status line and headers, a chunk-size line with its
// extensions, the trailer section) wait in the read buffer: each is bounded at 64 KiB, so
// the attempt fails "answer too large" after about 64 KiB, not at its timeout nor after
// gigabytes. The server's side shows it: the client hung up, having let through little
// more than the socket buffers.
namespace {

constexpr long bomb_peak_rss_kb = 64 * 1024; // the issue's figure: 64 MB
// What a client that stops reading at 64 KiB lets the server write: the loopback socket
// buffers (a few MB with autotuning) and one TLS record in flight. Without the limits
// the server wrote its whole bomb (hostile_server::bomb_bytes, 256 MiB).
constexpr std::uint64_t bomb_bytes_let_through = 16 << 20;

void check_bombs_cut(const hostile_server& server, std::size_t expected) {
  // The client has exited; the server's last write may not have failed yet.
  CHECK(server.wait_for_bombs(expected, std::chrono::seconds(10)));
  auto bombs = server.bombs();
  CHECK(bombs.size() == expected);
  for (const auto& bomb : bombs) {
    INFO("bomb of " << bomb.bytes << " bytes over " << bomb.seconds << " s");
    CHECK(bomb.client_hung_up);
    CHECK(bomb.bytes < bomb_bytes_let_through);
  }
}

void check_bomb(hostile_mode mode, std::string name, std::string_view part) {
  hostile_server server({.mode = mode});
  temp_dir dir;
  std::string manifest;
  for (unsigned i = 1; i <= 4; ++i)
    manifest += R"({"jobId":"job-)" + std::to_string(1000000 + i) +
                R"(","op":"jobname","body":"n"})"
                "\n";
  write_file(dir.path("m.ndjson"), manifest);
  write_file(dir.path("cert.pem"), server.certificate_pem());
  // The default 30 s timeout: an attempt that waited for it would take the run past 60 s.
  auto argv = jobpatch_argv(
      server.port(), dir.path("cert.pem"), "apply", dir.path("m.ndjson"),
      {"--connections", "2", "--max-attempts", "2", "--results", dir.path("r.ndjson")});
  auto run = run_measured(argv, {{"BYTENITE_API_KEY", "hostile-test-key"}}, dir.path("out"),
                          dir.path("err"), std::chrono::seconds(120));
  std::string err = read_file(dir.path("err"));
  INFO(name << ": " << err);
  auto lines = read_lines(dir.path("r.ndjson"));
  MESSAGE(name << ": exit " << run.code << " after " << run.seconds << " s, peak RSS "
               << run.peak_rss_kb / 1024 << " MB, " << server.bombs().size() << " bombs, the first "
               << (server.bombs().empty() ? 0 : server.bombs()[0].bytes)
               << " bytes; first record: " << (lines.empty() ? std::string("-") : lines[0]));
  CHECK(run.code == 1);
  CHECK(run.seconds * 1000 < static_cast<double>(slowed(std::chrono::seconds(20)).count()));
  if (rss_ceiling_applies) CHECK(run.peak_rss_kb < bomb_peak_rss_kb);
  check_bombs_cut(server, 8); // 4 lines, 2 attempts each
  REQUIRE(lines.size() == 4);
  for (const auto& line : lines) {
    auto record = json::parse(line).as_object();
    CHECK(record["outcome"].as_string() == "failed");
    CHECK(record["attempts"].as_int64() == 2);
    std::string error(record["error"].as_string());
    INFO(error);
    CHECK(error.find("answer too large") != std::string::npos);
    CHECK(error.find(part) != std::string::npos);
  }
}

} // namespace

TEST_CASE("hostile server: a chunk extension without end fails the attempt at 64 KiB") {
  check_bomb(hostile_mode::endless_chunk_extension, "endless chunk extension", "chunk-size line");
}

TEST_CASE("hostile server: a trailer section without end fails the attempt at 64 KiB") {
  check_bomb(hostile_mode::endless_trailer, "endless trailer", "trailer section");
}

TEST_CASE("hostile server: a header line without end fails the attempt at 64 KiB") {
  check_bomb(hostile_mode::endless_header_line, "endless header line", "status line and headers");
}

// The token exchange reads its answer through the same connection code: each bomb is cut
// at 64 KiB, and after the token endpoint's attempts the run gives up (exit 3) naming it.
TEST_CASE("hostile server: a token endpoint whose answers never end: exit 3, memory bounded") {
  using enum hostile_mode;
  hostile_server server(
      {.mode = ok,
       .token_bombs = {endless_chunk_extension, endless_trailer, endless_header_line,
                       endless_chunk_extension, endless_trailer, endless_header_line,
                       endless_chunk_extension, endless_trailer}});
  auto r = apply_against(server, 2, 1);
  INFO(r.err);
  MESSAGE("token bombs: exit " << r.run.code << " after " << r.run.seconds << " s, peak RSS "
                               << r.run.peak_rss_kb / 1024 << " MB, " << server.token_requests()
                               << " token requests: " << r.err);
  CHECK(r.run.code == 3);
  CHECK(server.token_requests() == 8);
  CHECK(server.hostile_answers() == 0);
  CHECK(r.err.find("cannot obtain an access token") != std::string::npos);
  CHECK(r.err.find("answer too large: the trailer section") != std::string::npos);
  if (rss_ceiling_applies) CHECK(r.run.peak_rss_kb < bomb_peak_rss_kb);
  check_bombs_cut(server, 8);
}
