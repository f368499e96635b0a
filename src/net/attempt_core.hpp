#pragma once
// What the apply and bench engines share: one client context (server, TLS, request
// builder, token source, retry policy, failure detector, the open connections, the
// abort/stop state) and one coroutine that performs an attempt and returns the decision.
// The engines keep only their own bookkeeping: order per job and the results for apply,
// the open-loop schedule for bench. What an answer means is decided by judge_reply()
// (jobpatch/wire/reply_judgement.hpp), never here. Single-threaded (the io thread).

#include "net/access_token_source.hpp"
#include "net/http_connection.hpp"

#include <jobpatch/manifest/operation.hpp>
#include <jobpatch/policy/failure_detector.hpp>
#include <jobpatch/policy/retry_policy.hpp>
#include <jobpatch/wire/job_document.hpp>
#include <jobpatch/wire/reply_judgement.hpp>
#include <jobpatch/wire/request_builder.hpp>
#include <jobpatch/wire/response_parser.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jobpatch::net {

// The client settings both commands take.
struct client_settings {
  std::string base_url;
  std::string api_key;
  std::string ca_file;
  bool insecure = false;
  unsigned max_attempts = default_max_attempts;
  std::chrono::milliseconds attempt_timeout{30'000};
  network_options network; // proxy, client certificate, extra headers
};

// What an attempt came to; the judgement itself is in worker_buffers::judgement.
struct attempt_result {
  retry_decision decision;
  std::chrono::steady_clock::time_point sent{}, answered{};
  bool auth_refreshed = false; // this attempt's 401 refreshed the token (retry follows)
  std::string fail_reason;     // byError key, when decision.kind == final and not applied
};

// A worker's reusable buffers: no allocation per request once warm. (The parsers are the
// client's, shared: see client_context::parser.)
struct worker_buffers {
  std::string request;
  http_reply reply;
  reply_judgement judgement;
  job_document document; // the last document read
  attempt_result result; // the last attempt's (its fail_reason keeps its capacity)
};

// One attempt to make.
struct attempt_request {
  // The update: a view of apply's operation or of bench's compact update_store.
  update_view update;
  std::string_view target; // request path, encoded once per update
  // A read of the job (GET target) instead of the PATCH: its document goes to
  // worker_buffers::document.
  bool read = false;
  unsigned attempt = 1;        // 1-based number of this attempt
  bool auth_refreshed = false; // an earlier 401 of this update already refreshed the token
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

class client_context {
public:
  using clock = std::chrono::steady_clock;

  // `on_stop` runs once when the run stops (signal, deadline, abort): the engine stops
  // its own waits there. Throws on a bad base URL or CA file.
  client_context(const client_settings& settings, std::function<void()> on_stop);

  // Resolves the host and checks that a key is held: throws before anything is sent.
  void start();

  // A fresh token, or false when none can be had (then the run is aborted) or stopping.
  asio::awaitable<bool> ensure_token();

  // Sends `in` on `connection` (unless `connected` is false: then w.reply already holds
  // the connection failure and nothing is sent), judges the answer (w.judgement), tells
  // the failure detector, asks the retry policy (w.result), and aborts the run on a TLS
  // verification failure or when the detector says every recent attempt failed the same
  // hopeless way.
  asio::awaitable<void> attempt(http_connection& connection, bool connected,
                                const attempt_request& in, worker_buffers& w);

  // Stops starting work; idempotent.
  void stop();
  // Stops and ends everything in flight: nothing can succeed any more. First reason wins.
  void abort(std::string reason);
  void close_connections() noexcept;

  bool stopping() const noexcept { return stopping_; }
  bool aborted() const noexcept { return aborted_; }
  const std::string& abort_reason() const noexcept { return abort_reason_; }

  // A worker's connection is registered (abort closes it) for as long as this guard
  // lives in the worker's frame, made right after the connection: however the frame
  // unwinds, an exception included, abort() never reaches a freed connection.
  class connection_registration {
  public:
    connection_registration(client_context& client, http_connection& connection)
        : client_(client), connection_(&connection) {
      client_.connections_.push_back(connection_);
    }
    ~connection_registration() { std::erase(client_.connections_, connection_); }
    connection_registration(const connection_registration&) = delete;
    connection_registration& operator=(const connection_registration&) = delete;

  private:
    client_context& client_;
    http_connection* connection_;
  };
  [[nodiscard]] connection_registration register_connection(http_connection& connection) {
    return {*this, connection};
  }

  const client_settings& settings() const noexcept { return settings_; }
  asio::io_context io{1};
  server_address server;
  request_builder builder;
  asio::ssl::context tls;
  retry_policy policy;
  failure_detector detector;
  access_token_source tokens;
  // The parsers of answers, one for all the workers: an answer is judged without a wait
  // on the one io thread, so they take turns, and a run's memory holds one parser's
  // capacity for the largest answer (~5 bytes per byte: a 2 MB document takes ~10 MB),
  // not one per connection.
  response_parser parser;
  // For reads (plan, --skip-unchanged, --undo-out) only: made on the first read, so a
  // plain apply never allocates it.
  std::unique_ptr<job_document_reader> reader;

private:
  client_settings settings_;
  std::function<void()> on_stop_;
  std::vector<http_connection*> connections_;
  bool stopping_ = false;
  bool aborted_ = false;
  std::string abort_reason_;
};

// The byError key of an update that ended failed for `decision` after `judgement`,
// assigned to `out` (its capacity reused).
void assign_fail_reason(std::string& out, const retry_decision& decision,
                        const reply_judgement& judgement);

} // namespace jobpatch::net
