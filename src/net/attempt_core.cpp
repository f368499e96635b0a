#include "net/attempt_core.hpp"

#include "net/engine_support.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

namespace jobpatch::net {

client_context::client_context(const client_settings& settings, std::function<void()> on_stop)
    : server(parse_server_address(settings.base_url, !settings.insecure, settings.network.proxy)),
      builder(server.host_header, server.base_path, "jobpatch/" JOBPATCH_VERSION,
              settings.network.headers),
      tls(make_client_tls_context(settings.ca_file, !settings.insecure, settings.network)),
      policy(make_retry_policy(settings.max_attempts)),
      tokens(io.get_executor(), tls, server, builder, settings.api_key, settings.attempt_timeout),
      settings_(settings), on_stop_(std::move(on_stop)) {}

void client_context::start() {
  resolve_server(io.get_executor(), server);
  if (settings_.api_key.empty())
    throw std::runtime_error("no API key: set BYTENITE_API_KEY or pass --api-key-file");
}

asio::awaitable<bool> client_context::ensure_token() {
  bool held = co_await tokens.ensure();
  if (!held && !tokens.failure().empty()) abort(tokens.failure());
  co_return held;
}

void client_context::stop() {
  if (stopping_) return;
  stopping_ = true;
  tokens.cancel();
  if (on_stop_) on_stop_();
}

void client_context::abort(std::string reason) {
  if (aborted_) return;
  aborted_ = true;
  abort_reason_ = std::move(reason);
  stop();
  close_connections();
}

void client_context::close_connections() noexcept {
  for (auto* connection : connections_) connection->close();
}

asio::awaitable<void> client_context::attempt(http_connection& connection, bool connected,
                                              const attempt_request& in, worker_buffers& w) {
  attempt_result& out = w.result;
  std::uint64_t generation = tokens.generation();
  w.request.clear();
  if (in.read)
    builder.append_get(w.request, in.target, tokens.token());
  else
    builder.append_patch(w.request, in.target, tokens.token(), in.update.body);
  out.sent = clock::now();
  if (connected) co_await connection.exchange(w.request, settings_.attempt_timeout, w.reply);
  out.answered = clock::now();

  reply_facts facts;
  facts.transport = w.reply.outcome.cls;
  facts.transport_detail = server_text(w.reply.detail);
  facts.request_written = connected && w.reply.request_written;
  facts.status = w.reply.status;
  facts.retry_after = w.reply.retry_after;
  facts.body = w.reply.body;
  facts.readable = w.reply.body.capacity();
  reply_judgement& j = w.judgement;
  // The wall clock matters only to a Retry-After date: not read for every answer.
  auto now_utc = facts.retry_after.empty() ? std::chrono::system_clock::time_point{}
                                           : std::chrono::system_clock::now();
  if (in.read) {
    if (!reader) reader = std::make_unique<job_document_reader>();
    judge_read_reply(in.update.job_id, facts, parser, *reader, tokens.scrubber(), now_utc, j,
                     w.document);
  } else {
    judge_reply(in.update, facts, parser, tokens.scrubber(), now_utc, j);
  }
  w.reply.release_grown_body(); // judged: a large answer is not held until the next one

  if (j.abort_run) abort(j.error);
  // A 401 after a token refresh means the key itself is no longer accepted.
  bool auth_rejected =
      j.outcome.cls == error_class::http_status && j.outcome.status == 401 && in.auth_refreshed;
  if (detector.record(auth_rejected ? attempt_outcome::failure(error_class::auth_failed)
                                    : j.outcome,
                      out.answered))
    abort(detector.message());

  // Every attempt goes to the policy, successes too: its retry budget counts requests.
  attempt_report report;
  report.outcome = j.applied() ? attempt_outcome::success(j.status) : j.outcome;
  report.attempt = in.attempt;
  report.auth_refreshed = in.auth_refreshed;
  report.retry_after = j.retry_after;
  out.decision = policy.decide(report, out.answered, in.deadline);
  if (j.verdict == reply_verdict::final_fail)
    out.decision = retry_decision{retry_action::final, final_reason::not_retryable, {}};
  out.auth_refreshed = out.decision.kind == retry_action::refresh_auth_then_retry;
  if (out.auth_refreshed) tokens.invalidate(generation);
  out.fail_reason.clear();
  if (out.decision.kind == retry_action::final && !j.applied())
    assign_fail_reason(out.fail_reason, out.decision, j);
}

void assign_fail_reason(std::string& out, const retry_decision& decision,
                        const reply_judgement& judgement) {
  if (!judgement.reason.empty())
    out.assign(judgement.reason);
  else if (decision.reason != final_reason::not_retryable)
    out.assign(to_string(decision.reason));
  else if (judgement.outcome.cls != error_class::http_status)
    out.assign(to_string(judgement.outcome.cls));
  else
    assign_http_status_key(out, judgement.outcome.status);
}

} // namespace jobpatch::net
