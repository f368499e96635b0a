#pragma once
// Test support: a hostile HTTP(S) server on loopback. It answers the token exchange
// (POST /v1/auth/access_token) normally, so a client gets as far as its PATCHes, and
// answers every other request in one hostile way. Plus a way to run a program and learn
// its peak memory.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace jobpatch::test {

enum class hostile_mode {
  garbage,         // 4 KiB of random bytes, then close
  huge_body,       // Content-Length: 100000000, then zeros for as long as the client reads
  endless_body,    // Transfer-Encoding: chunked, zero-filled chunks that never end
  overlong_body,   // Content-Length: 20, then 50 MB more than that
  endless_headers, // a status line, then header lines forever
  // Bombs at full speed, each bounded at bomb_bytes; see hostile_server::bombs().
  endless_chunk_extension, // a chunked 200 whose first chunk-size line's extension never ends
  endless_trailer,         // a chunked 200, its last chunk, then trailer fields forever
  endless_header_line,     // a status line, then one header line that never ends
  slowloris,               // a valid answer, one byte every 500 ms
  // The modes below answer on a kept-alive connection and record what they "apply".
  ok,                 // 200 {"job":{"id":...}}, applied at once
  interim_then_ok,    // interim_answers 1xx answers (103 Early Hints, then 100 Continue), the 200
  no_content,         // 204 No Content, applied at once
  late_apply,         // the first PATCH with body "old": read, closed unanswered, applied 500 ms
                      // later; every other PATCH as `ok`
  echo_403,           // 403 whose google.rpc.Status message quotes the whole request
  wrong_job,          // 200 with the document of another job ("other-job"), recorded as applied
  echo_name,          // 200 whose document's "name" quotes the whole request (token included)
  one_per_connection, // answers a connection's first PATCH as `ok`; reads the next and closes
                      // without answering or applying it (no "Connection: close" said), or
                      // resets the connection (RST) with reset_unanswered
  trailing_answer,    // the 200, and in the same write a second 200 nobody asked for (a
                      // document of job "stray"), on a connection kept alive
  // The modes below keep each job's name: GET /v1/customer/jobs/{id} answers the job's
  // document {"job":{"id","name","state"}} (its name "before <id>" until a PATCH sets it,
  // its state job_state), or documents[id] when there is one. A PATCH is recorded in
  // applied() (scripted: when answered 2xx), a jobname PATCH sets the name, and each is
  // answered:
  stateful_ok,        // 200 with the job's document, showing the new name
  applied_empty_body, // 200 with an empty body
  applied_text_body,  // 200 with a body that is not JSON
  applied_other_job,  // 200 with the document of another job ("other-job")
  scripted,           // answer_status with answer_body (hostile_server_options)
  // Every PATCH is answered 101 Switching Protocols (Upgrade: websocket) and the connection
  // then speaks that protocol: a request sent on it is counted (upgraded_reuses()) and
  // answered with a WebSocket close frame.
  switching_protocols,
};

// What one hostile answer (misbehave()) came to.
struct bomb_record {
  std::uint64_t bytes = 0;     // bytes of it written to the socket
  double seconds = 0;          // from its first byte until it ended
  bool client_hung_up = false; // it ended because the client closed (a write failed)
};

struct hostile_server_options {
  hostile_mode mode = hostile_mode::garbage;
  bool tls = true;
  std::string certificate_name = "localhost"; // the certificate's CN and DNS name
  bool expired = false;                       // valid from 30 days ago until yesterday
  // When set, every TLS connection after the first (the token exchange's) is served with
  // a certificate for this name, which the client has never seen: a mid-run certificate
  // change that no longer verifies.
  std::string later_certificate_name{};
  // When set, every connection after the first (the token exchange's) is accepted and
  // never answered: the client's TLS hello waits forever.
  bool stall_later_handshakes = false;
  // The token exchange: answer i (0-based) has status token_statuses[i], 200 beyond the
  // end. A 200 has token_body with "#" replaced by the answer's number; a 401 quotes the
  // whole request (the API key with it); others carry token_retry_after when non-empty.
  std::vector<int> token_statuses{};
  std::string token_body = R"({"token":"t","expiresIn":"3600"})";
  std::string token_retry_after{};
  // interim_then_ok: how many 1xx answers come before the 200.
  unsigned interim_answers = 2;
  // The modes that answer a PATCH wait this long first (a slow backend).
  std::chrono::milliseconds answer_delay{0};
  // one_per_connection: a reset (RST, as a crashed or overloaded server sends) instead of a
  // close (FIN).
  bool reset_unanswered = false;
  // Token answer i (0-based) is the hostile answer of token_bombs[i] while i is within it
  // (an endless or huge mode); the answers after it follow token_statuses.
  std::vector<hostile_mode> token_bombs{};
  // A token exchange's 401 answers this body as is when non-empty (application/json when it
  // starts with '{', else text/plain), instead of quoting the request.
  std::string token_error_body{};
  // The stateful modes: the "state" of every job's document (a 1.9 MB one, say).
  std::string job_state = "JOB_STATE_NEW";
  // The stateful modes: a GET of a job named here answers 200 with this body as is, in
  // place of the job's document (a duplicate key, a field quoting a secret).
  std::map<std::string, std::string> documents{};
  // scripted: every PATCH is answered answer_status with answer_body (application/json when
  // it starts with '{', else text/plain), "@job@" in it replaced by the job's id and
  // "@body@" by the PATCH's body; an empty answer_body answers the job's document.
  int answer_status = 200;
  std::string answer_body{};
};

class hostile_server {
public:
  // Listens on 127.0.0.1 (a free port), serves on its own thread until destroyed.
  explicit hostile_server(hostile_server_options options);
  ~hostile_server();
  hostile_server(const hostile_server&) = delete;
  hostile_server& operator=(const hostile_server&) = delete;

  unsigned short port() const;
  const std::string& certificate_pem() const; // its self-signed certificate (a CA file)
  unsigned token_requests() const;
  unsigned hostile_answers() const;
  // TCP connections accepted so far.
  unsigned connections() const;
  // switching_protocols: requests sent on a connection after its 101.
  unsigned upgraded_reuses() const;
  // The hostile answers written so far (PATCHes' and the token exchange's), in order.
  std::vector<bomb_record> bombs() const;
  // The most a bomb writes before the server closes the connection itself.
  static constexpr std::uint64_t bomb_bytes = std::uint64_t{256} << 20;
  // PATCHes applied, in order, as "jobId body" (modes ok, interim_then_ok, no_content,
  // late_apply).
  std::vector<std::string> applied() const;
  // Every request read but the token exchanges, in order, as "METHOD target" ("PATCH
  // /v1/customer/jobs/job-1/jobname", "GET /v1/customer/jobs/job-1").
  std::vector<std::string> requests() const;
  // When each token request arrived.
  std::vector<std::chrono::steady_clock::time_point> token_request_times() const;
  // Switches to `mode` for the requests read from now on (the jobs' state is kept): a
  // stateful server that answers properly again, say.
  void set_mode(hostile_mode mode);
  // late_apply: waits up to slowed(`timeout`) until the late copy of "old" was applied;
  // false if it was not by then.
  bool wait_for_late_copy(std::chrono::milliseconds timeout) const;
  // Waits up to slowed(`timeout`) until `count` hostile answers have ended (bombs() holds
  // them): the server notices a client's hang-up after the client may have exited.
  bool wait_for_bombs(std::size_t count, std::chrono::milliseconds timeout) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// How a program run ended, with its own peak resident memory (from wait4's rusage).
struct measured_run {
  int code = -1; // exit code, 128+signal, or -1 when it had to be killed
  long peak_rss_kb = 0;
  double seconds = 0;
};

// Runs `argv` with the environment plus `env`, stdout/stderr to the given files, killing
// it after slowed(`timeout`) (child_process.hpp). Like a child_process, it gets SIGKILL
// when the thread that started it ends (PR_SET_PDEATHSIG).
measured_run run_measured(std::vector<std::string> argv, std::map<std::string, std::string> env,
                          const std::string& stdout_path, const std::string& stderr_path,
                          std::chrono::milliseconds timeout);

} // namespace jobpatch::test
