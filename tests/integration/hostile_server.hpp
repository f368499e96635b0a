#pragma once
// Test support: a hostile HTTP(S) server on loopback. It answers the token exchange
// (POST /v1/auth/access_token) normally, so a client gets as far as its PATCHes, and
// answers every other request in one hostile way. Plus a way to run a program and learn
// its peak memory.

#include <chrono>
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
  slowloris,       // a valid answer, one byte every 500 ms
};

struct hostile_server_options {
  hostile_mode mode = hostile_mode::garbage;
  bool tls = true;
  std::string certificate_name = "localhost"; // the certificate's CN and DNS name
  bool expired = false;                       // valid from 30 days ago until yesterday
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
// it after slowed(`timeout`) (child_process.hpp).
measured_run run_measured(std::vector<std::string> argv, std::map<std::string, std::string> env,
                          const std::string& stdout_path, const std::string& stderr_path,
                          std::chrono::milliseconds timeout);

} // namespace jobpatch::test
