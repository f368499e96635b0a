// The apply engine: one io_context thread runs a worker coroutine per connection; a
// reader thread validates the manifest ahead of it, bounded by a window of held updates.
// Decisions (order per job, rate, retries, fail fast) are made by the pure modules;
// this file only performs them.

#include "net/apply_engine.hpp"

#include "net/access_token_source.hpp"
#include "net/engine_support.hpp"
#include "net/http_connection.hpp"

#include <jobpatch/policy/failure_detector.hpp>
#include <jobpatch/policy/job_scheduler.hpp>
#include <jobpatch/policy/rate_limiter.hpp>
#include <jobpatch/policy/retry_policy.hpp>
#include <jobpatch/wire/request_builder.hpp>
#include <jobpatch/wire/response_parser.hpp>
#include <jobpatch/wire/retry_after.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <unistd.h>

namespace jobpatch::net {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t reader_batch = 256;                 // lines handed from the reader per post
constexpr auto results_write_interval = milliseconds(20); // results reach the file
// How long a job's next update waits after an unanswered attempt, unless --settle says:
// enough for TCP retransmissions and short proxy stalls, short enough that jobs hit by
// a flaky network are not held up for long.
constexpr milliseconds default_settle{5000};
// Requests are paced 1 % below --rate: the limiter's bound holds at send time, and network
// jitter must not push the server's view of a second over it (at 500/s the margin absorbs
// 10 ms of jitter; 0.5 % let a server count 551 in a second for --rate 500 --burst 50).
constexpr double rate_margin = 0.99;

// The byError key of a line that failed for `why` after `last` (an HTTP status named
// with its reason phrase, so a 404 is told from a 403 at a glance).
std::string final_reason_key(final_reason why, attempt_outcome last) {
  if (why != final_reason::not_retryable) return std::string(to_string(why));
  if (last.cls != error_class::http_status) return std::string(to_string(last.cls));
  std::string key = "HTTP " + std::to_string(last.status);
  switch (last.status) {
  case 400:
    return key + " Bad Request";
  case 403:
    return key + " Forbidden";
  case 404:
    return key + " Not Found";
  case 405:
    return key + " Method Not Allowed";
  case 409:
    return key + " Conflict";
  case 422:
    return key + " Unprocessable Content";
  default:
    return key;
  }
}

// One update held by the engine, from the reader until its final outcome.
struct slot {
  operation op;
  std::string raw_line;
  std::string target; // request path, encoded once
  unsigned attempts = 0;
  bool auth_retried = false; // a 401 already led to one token refresh
  std::uint64_t token_generation = 0;
  clock::time_point first_send{};
  int last_status = 0;
  std::string last_error;
  std::string fail_reason;      // the summaries' byError key when the line ends failed
  std::size_t held_bytes = 0;   // counted against the byte window until final
  bool withheld_before = false; // --resume: an earlier run withheld it too
  bool in_use = false;
};

// What an update costs the byte window: its body, its raw line (kept for --failed-out)
// and its job id, plus a fixed share for the bookkeeping around them.
std::size_t held_bytes_of(const source_item& item) {
  return item.op.body.size() + item.raw_line.size() + item.op.job_id.size() + 256;
}

class engine {
public:
  engine(const apply_options& options, line_source& source, result_sink& sink,
         run_statistics& stats, const tick_callback& on_tick, milliseconds tick_interval)
      : options_(options), source_(source), sink_(sink), stats_(stats), on_tick_(on_tick),
        tick_interval_(tick_interval),
        server_(parse_server_address(options.base_url, !options.insecure, options.network.proxy)),
        builder_(server_.host_header, server_.base_path, "jobpatch/" JOBPATCH_VERSION,
                 options.network.headers),
        tls_(make_client_tls_context(options.ca_file, !options.insecure, options.network)),
        scheduler_(window_of(options)),
        limiter_(options.rate * rate_margin,
                 options.burst > 0 ? options.burst : std::max(1.0, options.rate / 10)),
        policy_(make_retry_policy(options.max_attempts)),
        tokens_(io_.get_executor(), tls_, server_, builder_, options.api_key,
                options.attempt_timeout),
        flush_timer_(io_), window_(window_of(options)),
        window_bytes_(options.window_bytes ? options.window_bytes : default_window_bytes),
        settle_(options.settle.count() >= 0
                    ? options.settle
                    : std::min<milliseconds>(options.attempt_timeout, default_settle)) {}

  run_status run();

private:
  // Updates held at once (read ahead, waiting, in flight): enough to keep every
  // connection busy while some jobs wait on their earlier updates.
  static std::size_t window_of(const apply_options& options) {
    return options.window ? options.window
                          : std::max<std::size_t>(4096, std::size_t{options.connections} * 64);
  }

  // Reader thread ------------------------------------------------------------------
  void read_manifest();
  void accept_batch(std::vector<source_item>& batch);
  void release_window(std::size_t n, std::size_t bytes);

  // Workers --------------------------------------------------------------------------
  asio::awaitable<void> worker();
  // One attempt of update `handle`; when `connected` is false, `reply` already holds the
  // connection failure and nothing is sent.
  asio::awaitable<void> attempt(http_connection& connection, std::uint64_t handle, bool connected,
                                response_parser& parser, std::string& request, http_reply& reply);
  // False when the run must stop: no token can be had (then the run is aborted).
  asio::awaitable<bool> ensure_token();
  void finish(std::uint64_t handle, outcome result, patch_verdict* verdict, double latency_ms);
  // --resume: a line whose last record failed for good (400/403/404) is not sent again;
  // it fails its job here, so the job's later updates are withheld as they were then.
  void settle_failed_before(source_item& item);
  // Fails an update without sending it when an earlier update of its job failed: applying
  // it would leave the job in a state the manifest never described, and a re-run of the
  // failed lines (--failed-out, --resume) would then undo it. True when settled.
  bool settle_if_job_failed(std::uint64_t handle);
  // A request that timed out, lost its connection or got a gateway's 502/504 may still
  // reach the server or be applied later (a stalled segment, a proxy that queued it, a
  // backend still working): the job is "in doubt". Retrying the same
  // update is harmless, but the job's next update waits until settle time has passed, so
  // that a late copy lands before it rather than after. True when `handle` was deferred.
  bool hold_if_job_in_doubt(std::uint64_t handle, clock::time_point now);
  void wake_workers();
  bool all_done() const;

  // Stopping -------------------------------------------------------------------------
  void stop();
  void abort(std::string reason);
  // The results file could not be written: stop sending at once (exit 4). What reached
  // the file stays whole; outcomes not yet written are lost and re-run on --resume.
  bool stop_if_output_failed();
  void drain_unfinished();
  asio::awaitable<void> watch_signals();
  void on_second_signal(const boost::system::error_code& ec, int number);
  asio::awaitable<void> flush_results_periodically();

  const apply_options& options_;
  line_source& source_;
  result_sink& sink_;
  run_statistics& stats_;
  const tick_callback& on_tick_;
  milliseconds tick_interval_;
  asio::io_context io_{1};
  server_address server_;
  request_builder builder_;
  asio::ssl::context tls_;

  job_scheduler scheduler_;
  rate_limiter limiter_;
  throttle_monitor throttle_monitor_;
  retry_policy policy_;
  failure_detector detector_;

  std::deque<slot> slots_; // a deque: growing it never moves a slot
  std::unordered_map<std::string, std::uint64_t> failed_jobs_;        // job id -> first failed line
  std::unordered_map<std::string, clock::time_point> in_doubt_until_; // job id -> settle end
  std::uint64_t held_in_doubt_ = 0; // updates that waited for their job to settle
  std::vector<std::uint64_t> free_slots_;
  std::size_t in_flight_ = 0;
  std::vector<asio::steady_timer*> idle_workers_;
  std::vector<http_connection*> connections_;

  // Reader thread handoff: `outstanding_` counts lines handed over and not yet final.
  std::thread reader_thread_;
  std::mutex window_mutex_;
  std::condition_variable window_cv_;
  std::size_t outstanding_ = 0;
  std::size_t outstanding_bytes_ = 0; // their held_bytes_of(), bounded by window_bytes_
  bool stop_reading_ = false;
  std::atomic<bool> cancel_reading_{false}; // unblocks a reader waiting on a pipe
  bool reader_done_ = false;                // io thread's view: the last batch has been accepted
  std::string reader_error_;

  access_token_source tokens_;

  asio::steady_timer flush_timer_;
  asio::signal_set signals_{io_, SIGINT, SIGTERM};
  std::size_t window_;
  std::size_t window_bytes_;
  clock::duration settle_;
  clock::time_point deadline_ = clock::time_point::max();
  bool stopping_ = false;
  bool finished_ = false;
  run_status result_;
};

// --- reader thread -------------------------------------------------------------------

void engine::read_manifest() {
  std::vector<source_item> batch;
  auto hand_over = [&] {
    if (batch.empty()) return;
    asio::post(io_, [this, items = std::move(batch)]() mutable { accept_batch(items); });
    batch.clear();
  };
  try {
    source_.reader().set_cancel_flag(&cancel_reading_);
    source_item item;
    while (true) {
      {
        std::unique_lock lock(window_mutex_);
        // Room in lines and in bytes; one update is always let through, however large.
        auto full = [&] {
          return outstanding_ >= window_ ||
                 (outstanding_ > 0 && outstanding_bytes_ >= window_bytes_);
        };
        if (full() && !stop_reading_) {
          lock.unlock();
          hand_over(); // what is batched must flow before we wait for room
          lock.lock();
          window_cv_.wait(lock, [&] { return !full() || stop_reading_; });
        }
        if (stop_reading_) break;
      }
      if (!source_.next(item)) break;
      {
        std::lock_guard lock(window_mutex_);
        ++outstanding_;
        outstanding_bytes_ += held_bytes_of(item);
      }
      batch.push_back(std::move(item));
      // Hand over a full batch, or before read() could block on a slow pipe.
      if (batch.size() >= reader_batch || !source_.reader().has_buffered_line()) hand_over();
    }
  } catch (const std::exception& e) {
    reader_error_ = e.what();
  }
  hand_over();
  asio::post(io_, [this] {
    reader_done_ = true;
    wake_workers();
  });
}

void engine::release_window(std::size_t n, std::size_t bytes) {
  {
    std::lock_guard lock(window_mutex_);
    outstanding_ -= n;
    outstanding_bytes_ -= bytes;
  }
  window_cv_.notify_one();
}

void engine::accept_batch(std::vector<source_item>& batch) {
  std::size_t released = 0, released_bytes = 0;
  for (auto& item : batch) {
    std::size_t bytes = held_bytes_of(item); // before anything is moved out of it
    if (item.valid && item.failed_before) {  // never sent, stopping or not
      settle_failed_before(item);
      ++released;
      released_bytes += bytes;
      continue;
    }
    if (stopping_) {
      if (item.valid && !item.already_applied) {
        ++result_.not_attempted;
        sink_.record_unsent(item.raw_line);
      }
      ++released;
      released_bytes += bytes;
      continue;
    }
    if (item.already_applied) {
      // No record: the earlier ok record stands, and a resumed run must not append one
      // record per skipped line (the summary counts them).
      stats_.record_outcome(item.op.op, outcome::skipped, 0, {});
      ++released;
      released_bytes += bytes;
      continue;
    }
    if (item.changed && result_.changed++ == 0) result_.first_changed = item.op.line;
    if (!item.valid) {
      // Only reached for stdin or --skip-invalid: a file is validated whole beforehand.
      sink_.record(invalid_record(item.error));
      stats_.record_invalid(item.error.op);
      ++released;
      released_bytes += bytes;
      continue;
    }
    std::uint64_t handle;
    if (!free_slots_.empty()) {
      handle = free_slots_.back();
      free_slots_.pop_back();
    } else {
      handle = slots_.size();
      slots_.emplace_back();
    }
    slot& s = slots_[handle];
    s.in_use = true;
    s.held_bytes = bytes;
    s.op = std::move(item.op);
    s.raw_line = std::move(item.raw_line);
    s.target = patch_target(server_.base_path, s.op.job_id, s.op.op);
    s.attempts = 0;
    s.auth_retried = false;
    s.last_status = 0;
    s.last_error.clear();
    s.fail_reason.clear();
    s.withheld_before = item.withheld_before;
    scheduler_.push(handle, s.op.job_id);
  }
  if (released) release_window(released, released_bytes);
  wake_workers();
}

// --- workers --------------------------------------------------------------------------

void engine::wake_workers() {
  for (auto* timer : idle_workers_) timer->cancel();
}

bool engine::all_done() const { return reader_done_ && scheduler_.empty() && in_flight_ == 0; }

asio::awaitable<bool> engine::ensure_token() {
  bool held = co_await tokens_.ensure();
  if (!held && !tokens_.failure().empty()) abort(tokens_.failure());
  co_return held;
}

bool engine::settle_if_job_failed(std::uint64_t handle) {
  slot& s = slots_[handle];
  auto it = failed_jobs_.find(s.op.job_id);
  if (it == failed_jobs_.end() || s.attempts > 0) return false;
  s.last_error = "not sent: line " + std::to_string(it->second) +
                 " of this job failed, and its later updates must not overtake it";
  s.fail_reason = "withheld (an earlier update of the job failed)";
  finish(handle, outcome::failed, nullptr, -1);
  return true;
}

void engine::settle_failed_before(source_item& item) {
  failed_jobs_.try_emplace(item.op.job_id, item.op.line);
  stats_.record_outcome(item.op.op, outcome::failed, 0, {});
  stats_.record_failure_reason(
      "earlier run: " +
      final_reason_key(final_reason::not_retryable, attempt_outcome::http(item.failed_before)));
  stats_.record_failed_earlier();
  // Its record from the earlier run stands; --failed-out lists it with this run's failures.
  sink_.record_unsent(item.raw_line);
}

bool engine::hold_if_job_in_doubt(std::uint64_t handle, clock::time_point now) {
  if (in_doubt_until_.empty()) return false;
  slot& s = slots_[handle];
  if (s.attempts > 0) return false; // a retry of the unanswered update itself
  auto it = in_doubt_until_.find(s.op.job_id);
  if (it == in_doubt_until_.end()) return false;
  if (now >= it->second) {
    in_doubt_until_.erase(it);
    return false;
  }
  ++held_in_doubt_;
  scheduler_.defer(handle, it->second);
  return true;
}

void engine::finish(std::uint64_t handle, outcome result, patch_verdict* verdict,
                    double latency_ms) {
  slot& s = slots_[handle];
  s.in_use = false;
  if (result == outcome::failed) failed_jobs_.try_emplace(s.op.job_id, s.op.line);
  result_record r;
  r.line = s.op.line;
  r.job_id = s.op.job_id;
  r.op = s.op.op;
  r.seq = s.op.seq;
  r.result = result;
  r.status = s.last_status;
  r.attempts = s.attempts;
  r.latency_ms = latency_ms;
  r.fingerprint = s.op.fingerprint;
  if (verdict && result == outcome::ok) {
    r.verified = verdict->verified;
    r.state = verdict->state;
  }
  if (result != outcome::ok) r.error = s.last_error;
  if (result == outcome::failed)
    stats_.record_failure_reason(s.fail_reason.empty() ? std::string_view("other")
                                                       : std::string_view(s.fail_reason));
  if (result == outcome::ok && r.verified && !*r.verified) stats_.record_unverified();
  // Withheld again, as an earlier run recorded it: that record stands (a nightly resume
  // must not append the same withholding every night); --failed-out still lists it.
  if (result == outcome::failed && s.attempts == 0 && s.withheld_before)
    sink_.record_unsent(s.raw_line);
  else
    sink_.record(r, s.raw_line);
  stop_if_output_failed();
  stats_.record_outcome(s.op.op, result, s.attempts,
                        std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::duration<double, std::milli>(latency_ms)));
  if (!finished_) scheduler_.complete(handle);
  // Give the memory back, not only the count: a slot reused by a small update must not
  // keep a large body's capacity.
  std::string().swap(s.op.body);
  std::string().swap(s.raw_line);
  free_slots_.push_back(handle);
  release_window(1, s.held_bytes);
  wake_workers();
}

asio::awaitable<void> engine::attempt(http_connection& connection, std::uint64_t handle,
                                      bool connected, response_parser& parser, std::string& request,
                                      http_reply& reply) {
  slot& s = slots_[handle];
  if (s.attempts == 0) s.first_send = clock::now();
  ++s.attempts;
  s.token_generation = tokens_.generation();
  request.clear();
  builder_.append_patch(request, s.target, tokens_.token(), s.op.body);

  auto sent = clock::now();
  if (connected) {
    ++in_flight_;
    co_await connection.exchange(request, options_.attempt_timeout, reply);
    --in_flight_;
  }
  auto now = clock::now();
  slot& done = slots_[handle]; // slots_ may have grown meanwhile
  auto service = now - sent;
  double latency_ms = std::chrono::duration<double, std::milli>(now - done.first_send).count();

  attempt_outcome outcome = reply.outcome;
  patch_verdict verdict;
  bool wrong_job = false;
  if (outcome.cls == error_class::none) {
    done.last_status = reply.status;
    if (reply.status == 204) {
      // No Content: the server says it applied the update but shows nothing to check it
      // against (the API documents a 200 with the job). Recorded ok, "verified": false.
      outcome = attempt_outcome::success(reply.status);
      verdict.job_matches = true;
      verdict.verified = false;
    } else if (reply.status >= 200 && reply.status < 300) {
      outcome = attempt_outcome::success(reply.status);
      if (!parser.check_patch(done.op, reply.body, 0, verdict)) {
        // Most likely cut short; the PATCH sets absolute values, so trying again is safe.
        outcome = attempt_outcome::failure(error_class::malformed_response);
        done.last_error = tokens_.scrubber().scrub(verdict.error);
      } else if (!verdict.job_matches) {
        wrong_job = true;
        done.last_error = tokens_.scrubber().scrub(verdict.error);
      }
      tokens_.scrubber().scrub_in_place(verdict.state);
    } else {
      outcome = attempt_outcome::http(reply.status);
      // Server text is scrubbed where it enters: an error body may quote the request,
      // its Authorization header (the token) included.
      std::string text = tokens_.scrubber().scrub(parser.error_text(reply.body));
      done.last_error = "HTTP " + std::to_string(reply.status) + (text.empty() ? "" : ": " + text);
      // A gateway's 502/504 says nothing of the backend, which may still apply the request.
      if (reply.status == 502 || reply.status == 504)
        in_doubt_until_[done.op.job_id] = now + settle_;
    }
  } else {
    done.last_status = 0; // no answer this time; an older status would mislead
    done.last_error = tokens_.scrubber().scrub(reply.detail);
    // Once the request was fully written the server may have it, whatever ended the
    // attempt (a timeout, a reset, a kept-alive connection closed before any answer).
    if (connected && reply.request_written) in_doubt_until_[done.op.job_id] = now + settle_;
  }
  stats_.record_attempt(done.op.op, outcome,
                        std::chrono::duration_cast<std::chrono::nanoseconds>(service), connected);
  // A 401 after a token refresh means the key itself is no longer accepted.
  bool auth_rejected =
      outcome.cls == error_class::http_status && outcome.status == 401 && done.auth_retried;
  if (detector_.record(auth_rejected ? attempt_outcome::failure(error_class::auth_failed) : outcome,
                       now))
    abort(detector_.message());
  bool throttled =
      outcome.cls == error_class::http_status && (outcome.status == 429 || outcome.status == 503);
  if (throttle_monitor_.record(throttled, now))
    limiter_.on_throttled(now);
  else if (!throttled)
    limiter_.on_success(now);

  // Every attempt goes to the policy, successes too: its retry budget counts requests.
  attempt_report report;
  report.outcome = outcome;
  report.attempt = done.attempts;
  report.auth_refreshed = done.auth_retried;
  if (!reply.retry_after.empty())
    report.retry_after = parse_retry_after(reply.retry_after, std::chrono::system_clock::now());
  auto decision = policy_.decide(report, now, deadline_);
  if (outcome.ok()) {
    if (wrong_job) done.fail_reason = "answer names another job";
    finish(handle, wrong_job ? outcome::failed : outcome::ok, &verdict, latency_ms);
    co_return;
  }
  if (stopping_) {
    if (result_.aborted) done.last_error += " (run aborted)";
    done.fail_reason = result_.aborted             ? "run aborted"
                       : result_.deadline_exceeded ? "deadline reached"
                                                   : "interrupted";
    finish(handle, outcome::failed, nullptr, latency_ms);
    co_return;
  }
  switch (decision.kind) {
  case retry_action::retry:
    scheduler_.defer(handle, decision.at);
    wake_workers();
    break;
  case retry_action::refresh_auth_then_retry:
    done.auth_retried = true;
    tokens_.invalidate(done.token_generation);
    scheduler_.defer(handle, now);
    wake_workers();
    break;
  case retry_action::final:
    done.fail_reason = final_reason_key(decision.reason, outcome);
    if (decision.reason == final_reason::not_retryable && outcome.cls == error_class::http_status &&
        resume_state::is_permanent_failure(outcome.status))
      stats_.record_failed_for_good();
    if (decision.reason != final_reason::not_retryable &&
        decision.reason != final_reason::succeeded) {
      done.last_error += " (";
      done.last_error += to_string(decision.reason);
      done.last_error += ')';
    }
    finish(handle, outcome::failed, nullptr, latency_ms);
    break;
  }
}

asio::awaitable<void> engine::worker() {
  http_connection connection(io_.get_executor(), &tls_, server_);
  connections_.push_back(&connection);
  response_parser parser;
  std::string request;
  http_reply reply;
  asio::steady_timer timer(io_);
  while (!stopping_ && !all_done()) {
    std::optional<std::uint64_t> handle = scheduler_.next(clock::now());
    if (handle && settle_if_job_failed(*handle)) continue;
    if (handle && hold_if_job_in_doubt(*handle, clock::now())) continue;
    if (!handle) {
      auto due = scheduler_.next_due();
      timer.expires_at(due ? *due : clock::time_point::max());
      idle_workers_.push_back(&timer);
      co_await timer.async_wait(use_tuple);
      std::erase(idle_workers_, &timer);
      continue;
    }
    bool have_token = co_await ensure_token();
    if (!have_token) break; // stopping: drain_unfinished() settles the update
    // Connect first, then pace to the global rate (retries count like first attempts):
    // the token is taken right before the request leaves, so the server sees the rate.
    bool connected = co_await connection.prepare(options_.attempt_timeout, reply);
    auto when = limiter_.reserve(clock::now());
    if (when > clock::now()) {
      timer.expires_at(when);
      co_await timer.async_wait(use_tuple);
    }
    co_await attempt(connection, *handle, connected, parser, request, reply);
  }
  std::erase(connections_, &connection);
  wake_workers();
}

// --- stopping -------------------------------------------------------------------------

void engine::stop() {
  if (stopping_) return;
  stopping_ = true;
  {
    std::lock_guard lock(window_mutex_);
    stop_reading_ = true;
  }
  cancel_reading_ = true;
  window_cv_.notify_all();
  tokens_.cancel();
  wake_workers();
}

void engine::abort(std::string reason) {
  if (result_.aborted) return;
  result_.aborted = true;
  result_.abort_reason = std::move(reason);
  stop();
  // Nothing in flight can succeed: end it now instead of waiting for timeouts.
  for (auto* connection : connections_) connection->close();
}

bool engine::stop_if_output_failed() {
  if (sink_.write_error().empty()) return false;
  if (result_.output_failed) return true;
  abort("results could not be written: " + sink_.write_error() + " (errno " +
        std::to_string(sink_.write_errno()) +
        "); sending stopped, what was recorded before stays whole, run again with --resume "
        "once the file can be written");
  result_.output_failed = true;
  return true;
}

void engine::drain_unfinished() {
  // Updates that were tried but not finished end as failed; untried ones were never sent
  // and stay without a record (a --resume run sends them).
  for (std::uint64_t handle = 0; handle < slots_.size(); ++handle) {
    slot& s = slots_[handle];
    if (!s.in_use) continue;
    if (s.attempts == 0) {
      s.in_use = false;
      ++result_.not_attempted;
      sink_.record_unsent(s.raw_line);
      release_window(1, s.held_bytes);
      continue;
    }
    s.fail_reason = result_.aborted             ? "run aborted"
                    : result_.deadline_exceeded ? "deadline reached"
                                                : "interrupted";
    s.last_error += result_.aborted             ? " (run aborted)"
                    : result_.deadline_exceeded ? " (deadline reached before a retry)"
                                                : " (interrupted before a retry)";
    double latency_ms =
        std::chrono::duration<double, std::milli>(clock::now() - s.first_send).count();
    finish(handle, outcome::failed, nullptr, latency_ms);
  }
}

asio::awaitable<void> engine::watch_signals() {
  auto [ec, number] = co_await signals_.async_wait(use_tuple);
  if (ec || finished_) co_return;
  result_.signal = number;
  stop();
  signals_.async_wait(
      [this](const boost::system::error_code& e, int n) { on_second_signal(e, n); });
  // In-flight requests may finish within the grace period; then they are cut off.
  asio::steady_timer grace(io_, options_.grace);
  co_await grace.async_wait(use_tuple);
  if (!finished_)
    for (auto* connection : connections_) connection->close();
}

void engine::on_second_signal(const boost::system::error_code& ec, int number) {
  if (ec) return;
  // A second signal: leave at once, keeping what was recorded so far.
  try {
    sink_.flush();
  } catch (...) {}
  ::_exit(128 + number);
}

asio::awaitable<void> engine::flush_results_periodically() {
  auto last_sync = clock::now(), last_tick = clock::now();
  while (!finished_) {
    flush_timer_.expires_after(results_write_interval);
    co_await flush_timer_.async_wait(use_tuple);
    auto now = clock::now();
    bool durable =
        options_.fsync_interval.count() > 0 && now - last_sync >= options_.fsync_interval;
    if (durable) last_sync = now;
    sink_.flush(durable);
    stop_if_output_failed();
    if (on_tick_ && !finished_ && now - last_tick >= tick_interval_) {
      last_tick = now;
      on_tick_(engine_tick{scheduler_.deferred_count()});
    }
  }
}

run_status engine::run() {
  resolve_server(io_.get_executor(), server_);
  if (options_.api_key.empty())
    throw std::runtime_error("no API key: set BYTENITE_API_KEY or pass --api-key-file");
  if (options_.deadline.count() > 0) deadline_ = clock::now() + options_.deadline;

  reader_thread_ = std::thread([this] { read_manifest(); });
  asio::co_spawn(io_, watch_signals(), asio::detached);
  asio::co_spawn(io_, flush_results_periodically(), asio::detached);
  asio::steady_timer deadline_timer(io_);
  if (options_.deadline.count() > 0) {
    deadline_timer.expires_at(deadline_);
    deadline_timer.async_wait([this](boost::system::error_code e) {
      if (e || finished_) return;
      result_.deadline_exceeded = true;
      stop();
    });
  }

  auto all_workers_done = [&] {
    finished_ = true; // the scheduler is no longer consulted
    drain_unfinished();
    flush_timer_.cancel();
    deadline_timer.cancel();
    {
      std::lock_guard lock(window_mutex_);
      stop_reading_ = true;
    }
    cancel_reading_ = true;
    window_cv_.notify_all();
    // Stop the signal watcher and any other waits: the io_context has nothing left to do.
    io_.stop();
  };
  spawn_workers(
      io_, options_.connections, [this] { return worker(); },
      [this](std::string reason) { abort(std::move(reason)); }, all_workers_done);
  io_.run();
  reader_thread_.join();
  // Batches the reader handed over after the loop stopped: counted (and listed) as unsent.
  io_.restart();
  io_.poll();
  stats_.set_token_exchanges(tokens_.exchanges());
  if (held_in_doubt_)
    result_.notes.push_back(
        std::to_string(held_in_doubt_) +
        " updates waited for an unanswered request of their job to settle "
        "(--settle " +
        std::to_string(std::chrono::duration_cast<milliseconds>(settle_).count()) + " ms)");
  if (!reader_error_.empty() && !result_.aborted) {
    result_.aborted = true;
    result_.abort_reason = "reading the manifest failed: " + reader_error_;
  }
  sink_.flush();
  stop_if_output_failed();
  if (on_tick_) on_tick_(engine_tick{}); // the final counts
  return result_;
}

} // namespace

run_status run_engine(const apply_options& options, line_source& source, result_sink& sink,
                      run_statistics& stats, const tick_callback& on_tick,
                      milliseconds tick_interval) {
  engine e(options, source, sink, stats, on_tick, tick_interval);
  return e.run();
}

} // namespace jobpatch::net
