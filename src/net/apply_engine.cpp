// The apply engine: one io_context thread runs a worker coroutine per connection; a
// reader thread validates the manifest ahead of it, bounded by a window of held updates;
// a writer thread (output_handoff, results/output_thread.hpp) writes what it records.
// Decisions (order per job, rate, retries, fail fast) are made by the pure modules;
// this file only performs them.

#include "net/apply_engine.hpp"

#include "net/attempt_core.hpp"
#include "net/control_socket.hpp"
#include "net/engine_support.hpp"
#include "net/manifest_feeder.hpp"
#include "net/output_handoff.hpp"
#include "net/read_first_tracker.hpp"
#include "net/run_control.hpp"
#include "net/slot_table.hpp"

#include <jobpatch/manifest/body_validator.hpp>
#include <jobpatch/policy/concurrency_controller.hpp>
#include <jobpatch/policy/job_scheduler.hpp>
#include <jobpatch/policy/rate_limiter.hpp>
#include <jobpatch/results/resume_state.hpp>
#include <jobpatch/run/control_command.hpp>
#include <jobpatch/text/json_writer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <span>
#include <stdexcept>
#include <unordered_map>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

namespace jobpatch::net {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A finished update's strings keep up to this capacity for the next line that reuses
// them (no allocation per line in steady state); larger ones are given back.
constexpr std::size_t kept_string_capacity = 1024;
// Records are handed to the writer thread this often (and reach the file right after).
constexpr auto results_write_interval = milliseconds(20);
// How long a job's next update waits after an unanswered attempt, unless --settle says:
// enough for TCP retransmissions and short proxy stalls, short enough that jobs hit by
// a flaky network are not held up for long.
constexpr milliseconds default_settle{5000};
// Requests are paced 1 % below --rate: the limiter's bound holds at send time, and network
// jitter must not push the server's view of a second over it (at 500/s the margin absorbs
// 10 ms of jitter; 0.5 % let a server count 551 in a second for --rate 500 --burst 50).
constexpr double rate_margin = 0.99;

// JOBPATCH_TEST_WORKER_THROW_AFTER=N (tests only): see engine::test_worker_throw_after_.
std::uint64_t test_fault_from_environment() {
  const char* value = std::getenv("JOBPATCH_TEST_WORKER_THROW_AFTER");
  return value ? std::strtoull(value, nullptr, 10) : 0;
}

class engine {
public:
  engine(const apply_options& options, line_source& source, result_sink& sink,
         run_statistics& stats, const engine_hooks& hooks, const read_first_state& read_first)
      : options_(options), sink_(sink), stats_(stats), hooks_(hooks),
        read_first_(options.read_first()),
        client_(settings_of(options), [this] { stop_reading(); }),
        tracker_({options.plan, options.skip_unchanged, !options.undo_out.empty()}, read_first.plan,
                 client_.tokens.scrubber(), status_.notes, read_first.undo_fields),
        feeder_(
            io_, source, window_of(options),
            options.window_bytes ? options.window_bytes : default_window_bytes,
            [this](std::span<source_item> batch) { accept_batch(batch); }, [this] { wake_all(); }),
        scheduler_(window_of(options)),
        limiter_(options.rate * rate_margin, burst_of(options, options.rate),
                 adaptive_rate_config{.enabled = !options.auto_connections}),
        settle_(options.settle.count() >= 0
                    ? options.settle
                    : std::min<milliseconds>(options.attempt_timeout, default_settle)) {
    if (options.plan && !read_first.plan) throw std::logic_error("plan without a plan sink");
  }

  run_status run();

private:
  // Updates held at once (read ahead, waiting, in flight): enough to keep every
  // connection busy while some jobs wait on their earlier updates.
  static client_settings settings_of(const apply_options& options) {
    return {options.base_url,     options.api_key,         options.ca_file, options.insecure,
            options.max_attempts, options.attempt_timeout, options.network};
  }
  static std::size_t window_of(const apply_options& options) {
    return options.window ? options.window
                          : std::max<std::size_t>(4096, std::size_t{options.connections} * 64);
  }
  static double burst_of(const apply_options& options, double rate) {
    return options.burst > 0 ? options.burst : std::max(1.0, rate / 10);
  }

  // Takes a batch of updates from the reader (see manifest_feeder).
  void accept_batch(std::span<source_item> batch);

  // Workers --------------------------------------------------------------------------
  asio::awaitable<void> worker();
  // One attempt of update `handle`; when `connected` is false, `w.reply` already holds
  // the connection failure and nothing is sent.
  asio::awaitable<void> attempt(http_connection& connection, std::uint64_t handle, bool connected,
                                worker_buffers& w);
  // The retry policy's last word on `handle`: it ends failed, the reason in its error.
  void give_up(std::uint64_t handle, const reply_judgement& j, const attempt_result& result,
               clock::duration latency);
  // Records the final outcome of `handle`; `judgement` is the last answer's when applied.
  // `latency`: first send to final answer; none for a line never sent.
  void finish(std::uint64_t handle, outcome result, const reply_judgement* judgement,
              std::optional<clock::duration> latency);
  // Read first: the job's document is in `w.document`; plans the line, finishes it
  // unchanged, or lets the PATCH follow (once its undo line is durable, see write_ahead).
  void after_read(std::uint64_t handle, const reply_judgement& j, worker_buffers& w,
                  clock::duration latency, clock::time_point now);
  // --undo-out: the undo line of `handle` goes to the writer thread, and its PATCH waits
  // until the line is on disk (undo_durable): a PATCH that is cancelled, killed, unanswered
  // or answered unusably still has its undo line.
  void write_ahead(std::uint64_t handle);
  void undo_durable(std::uint64_t handle);
  // Fails an update without sending it: an earlier update of its job failed (line
  // `failed_line`, 0 when no longer remembered), see job_scheduler::withheld().
  void withhold(std::uint64_t handle, std::uint64_t failed_line);
  // Idle workers wait on their own timer in idle_workers_ (the named wait list): one is
  // woken when there is work for one, all when the run ends.
  void wake_one();
  void wake_all();
  // --resume: a line whose last record failed for good (400/403/404) is not sent again;
  // it fails its job here, so the job's later updates are withheld as they were then
  // (not behind a 404: see job_scheduler::failure_withholds).
  void settle_failed_before(source_item& item);
  bool all_done() const;

  // Requests in flight and live control ----------------------------------------------
  // Whether a worker may take an update now: not paused, and fewer than the limit taken.
  bool may_start() const noexcept { return !paused_ && active_ < limit_; }
  // The limit is `limit` from now on: more workers are started when it passes their
  // number, and idle ones woken to use it.
  void set_limit(unsigned limit, clock::time_point now);
  // Wakes as many idle workers as the limit leaves room for.
  void wake_free_workers();
  // --connections auto: an answer's round trip, for the controller.
  void adapt(const attempt_result& result, bool throttled, unsigned in_flight_at_send);
  // --control: one operator command; returns the JSON reply.
  std::string on_control(const control_command& command);
  std::string control_status() const;
  // The most connections the open-file limit allows (`connections N` beyond is refused).
  static unsigned descriptors_for_connections();
  // Says a change on stderr and lists it in the summary.
  void log_change(const std::string& what, const std::string& detail);
  double seconds_since_start(clock::time_point now) const {
    return std::chrono::duration<double>(now - started_).count();
  }

  // Stopping -------------------------------------------------------------------------
  // Run by client_.stop(): the reader stops and the idle workers look again.
  void stop_reading();
  // The writer thread could not write a results (or undo, plan) file: stop sending at
  // once (exit 4). What reached the file stays whole; outcomes not yet written are lost
  // and re-run on --resume.
  bool stop_if_output_failed();
  void drain_unfinished();
  // What a signal, the deadline and each results_write_interval do (see run_control).
  run_control::actions control_actions();
  // The one line a second signal leaves on stderr: the lines it leaves without a record.
  std::string leave_now_message() const;
  // Every results_write_interval: the tick (progress, metrics), then the hand-over to
  // the writer thread.
  void every_interval(clock::time_point now);

  const apply_options& options_;
  run_status status_; // before tracker_, which adds to its notes
  result_sink& sink_;
  run_statistics& stats_;
  const engine_hooks& hooks_;
  bool read_first_;
  client_context client_;
  asio::io_context& io_ = client_.io;
  read_first_tracker tracker_;
  manifest_feeder feeder_;
  // Every file write of the run happens on the writer thread; this is the engine's one
  // link to it (hand-overs, what was written, the first write error).
  output_handoff handoff_{
      io_,
      sink_.output(),
      options_.fsync_interval,
      [this](std::size_t lines, std::size_t bytes) { feeder_.release(lines, bytes); },
      [this] { stop_if_output_failed(); },
      [this](std::uint64_t handle) { undo_durable(handle); }};

  job_scheduler scheduler_;
  rate_limiter limiter_;
  throttle_monitor throttle_monitor_;

  slot_table slots_;
  std::size_t in_flight_ = 0;
  std::vector<asio::steady_timer*> idle_workers_;
  // Workers waiting for the rate limiter's time: woken by a new rate to ask again.
  std::vector<asio::steady_timer*> rate_waiters_;

  // The requests allowed in flight: --connections N, or the controller's limit (auto).
  std::optional<concurrency_controller> controller_;
  unsigned limit_ = 0;
  unsigned active_ = 0;          // workers between taking an update and its attempt's end
  bool paused_ = false;          // --control pause: no new request starts
  std::uint64_t lines_seen_ = 0; // lines the reader handed over
  clock::time_point started_ = clock::now();
  std::optional<worker_group> workers_;
  std::optional<control_socket> control_socket_;

  clock::duration settle_;
  clock::time_point last_tick_ = clock::now();
  run_control control_{io_, options_.grace, options_.deadline, results_write_interval,
                       control_actions()};
  // Test-only fault hook: the worker about to make attempt N throws (0 = never), so the
  // tests reach the path built for worker errors (exit 3, no memory error under ASan).
  std::uint64_t test_worker_throw_after_ = test_fault_from_environment();
  std::uint64_t test_attempts_ = 0;
};

// --- hand-over from the reader -------------------------------------------------------

void engine::accept_batch(std::span<source_item> batch) {
  lines_seen_ += batch.size();
  std::size_t released = 0, released_bytes = 0;
  for (auto& item : batch) {
    std::size_t bytes = manifest_feeder::held_bytes_of(item); // before anything is moved out of it
    if (item.valid && item.failed_before) {                   // never sent, stopping or not
      settle_failed_before(item);
      ++released;
      released_bytes += bytes;
      continue;
    }
    if (client_.stopping()) {
      if (item.valid && !item.already_applied) {
        ++status_.not_attempted;
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
    if (item.changed && status_.changed++ == 0) status_.first_changed = item.op.line;
    if (!item.valid) {
      // Only reached for stdin or --skip-invalid: a file is validated whole beforehand.
      sink_.record(invalid_record(item.error));
      tracker_.record_invalid(item.error);
      stats_.record_invalid(item.error.op, item.error.job_id.empty());
      ++released;
      released_bytes += bytes;
      continue;
    }
    std::uint64_t handle = slots_.acquire();
    slot& s = slots_[handle];
    s.held_bytes = bytes;
    // Swapped, not moved: the item takes the slot's old storage back to the reader.
    std::swap(s.op, item.op);
    s.raw_line.swap(item.raw_line);
    assign_patch_target(s.target, client_.server.base_path, s.op.job_id, s.op.op);
    s.attempts = 0;
    s.auth_retried = false;
    s.last_status = 0;
    s.last_error.clear();
    s.fail_reason.clear();
    s.withheld_before = item.withheld_before;
    s.patch_in_doubt = false;
    if (read_first_) {
      s.reads = 0;
      s.read_done = false;
      s.undo_line.clear();
      s.undo_fields = 0;
      assign_job_target(s.read_target, client_.server.base_path, s.op.job_id);
    }
    scheduler_.push(handle, s.op.job_id);
  }
  if (released) feeder_.release(released, released_bytes);
  for (std::size_t i = released; i < batch.size() && !idle_workers_.empty(); ++i) wake_one();
  if (all_done()) wake_all();
}

// --- workers --------------------------------------------------------------------------

void engine::wake_one() {
  if (idle_workers_.empty()) return;
  asio::steady_timer* timer = idle_workers_.back();
  idle_workers_.pop_back();
  timer->cancel();
}

void engine::wake_all() {
  for (auto* timer : idle_workers_) timer->cancel();
  idle_workers_.clear();
}

bool engine::all_done() const {
  return feeder_.done() && scheduler_.empty() && in_flight_ == 0 && handoff_.durable_waiting() == 0;
}

void engine::withhold(std::uint64_t handle, std::uint64_t failed_line) {
  slot& s = slots_[handle];
  s.last_error = failed_line
                     ? "not sent: line " + std::to_string(failed_line) + " of this job failed"
                     : std::string("not sent: an earlier line of this job failed");
  s.last_error += ", and its later updates must not overtake it";
  s.fail_reason = "withheld (an earlier update of the job failed)";
  finish(handle, outcome::failed, nullptr, std::nullopt);
}

void engine::settle_failed_before(source_item& item) {
  scheduler_.fail_job(item.op.job_id, item.op.line, item.failed_before);
  stats_.record_outcome(item.op.op, outcome::failed, 0, {});
  stats_.record_failure_reason("earlier run: " + http_status_key(item.failed_before));
  stats_.record_failed_earlier();
  // Its record from the earlier run stands; --failed-out lists it with this run's failures.
  sink_.record_unsent(item.raw_line);
}

void engine::finish(std::uint64_t handle, outcome result, const reply_judgement* judgement,
                    std::optional<clock::duration> latency) {
  slot& s = slots_[handle];
  tracker_.on_finish(s, result);
  result_record r;
  r.line = s.op.line;
  r.job_id = s.op.job_id;
  r.op = s.op.op;
  r.seq = s.op.seq;
  r.result = result;
  r.status = s.last_status;
  r.attempts = s.attempts + s.reads; // the reads before the PATCH are requests of the line
  if (latency) r.latency_ms = std::chrono::duration<double, std::milli>(*latency).count();
  r.fingerprint = s.op.fingerprint;
  if (judgement && (result == outcome::ok || result == outcome::unchanged)) {
    r.verified = judgement->verified;
    r.state = judgement->state;
  }
  if (result == outcome::failed && s.patch_in_doubt) {
    // Its undo line (with --undo-out) was written before the PATCH left.
    r.in_doubt = true;
    s.last_error += "; in doubt: the update may have been applied (a PATCH was sent and not "
                    "answered usably)";
    stats_.record_in_doubt();
  }
  if (result != outcome::ok && result != outcome::unchanged) r.error = s.last_error;
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
  stats_.record_outcome(s.op.op, result, s.attempts + s.reads,
                        std::chrono::duration_cast<std::chrono::nanoseconds>(
                            latency.value_or(clock::duration::zero())));
  if (!control_.finished()) {
    // A plan writes nothing, so a job's later lines have no earlier write to wait for.
    if (result == outcome::failed && !options_.plan)
      scheduler_.fail_job(handle, s.op.line, s.last_status);
    scheduler_.complete(handle);
  }
  // Give a large body's memory back, not only the count; a small one's capacity is kept
  // for the next line (see kept_string_capacity).
  for (std::string* text : {&s.op.body, &s.raw_line}) {
    if (text->capacity() > kept_string_capacity)
      std::string().swap(*text);
    else
      text->clear();
  }
  slots_.release(handle);
  // Its share of the window comes back once its record is written: a disk that stalls
  // holds the reader back instead of filling memory.
  handoff_.release_when_written(1, s.held_bytes);
  // The worker that finished takes the job's next update itself; the others need only
  // hear of the end.
  if (all_done()) wake_all();
}

void engine::after_read(std::uint64_t handle, const reply_judgement& j, worker_buffers& w,
                        clock::duration latency, clock::time_point now) {
  slot& s = slots_[handle];
  s.read_done = true;
  // The PATCH is a request of its own: a 401 to it may refresh the token once more.
  s.auth_retried = false;
  switch (tracker_.after_read(s, w.document, *client_.reader)) {
  case read_first_tracker::next_step::compare_failed:
    s.last_error = "the update's body could not be compared with the job's document";
    s.fail_reason = "compare failed";
    finish(handle, outcome::failed, nullptr, latency);
    return;
  case read_first_tracker::next_step::secret_in_undo:
    s.last_error = "not sent: the job's current value holds a secret (the API key or an access "
                   "token, echoed by the server), which --undo-out must not write to the undo "
                   "file; without its undo line the update cannot be undone";
    s.fail_reason = "secret in the job's old values";
    finish(handle, outcome::failed, nullptr, latency);
    return;
  case read_first_tracker::next_step::planned:
    finish(handle, outcome::ok, &j, latency);
    return;
  case read_first_tracker::next_step::unchanged:
    finish(handle, outcome::unchanged, &j, latency);
    return;
  case read_first_tracker::next_step::patch:
    if (!s.undo_line.empty()) {
      write_ahead(handle);
      return;
    }
    // The PATCH follows at once, through the scheduler (the rate limit applies to it too);
    // the job stays in flight, so none of its later updates can start in between.
    scheduler_.defer(handle, now);
    wake_one();
    return;
  }
}

void engine::write_ahead(std::uint64_t handle) {
  slot& s = slots_[handle];
  sink_.record_undo(s.undo_line);
  if (s.undo_line.capacity() > kept_string_capacity)
    std::string().swap(s.undo_line);
  else
    s.undo_line.clear();
  // The job stays in flight meanwhile: none of its later updates can start.
  handoff_.when_durable(handle);
}

void engine::undo_durable(std::uint64_t handle) {
  // Stopping: the PATCH is not sent; drain_unfinished() settles the line as unsent (its
  // undo line restores values the job still holds: harmless).
  if (control_.finished() || client_.stopping()) return;
  scheduler_.defer(handle, clock::now());
  wake_one();
}

// Why a line still unfinished ends failed when the run stops.
std::string_view stop_reason(bool aborted, bool deadline) {
  return aborted ? "run aborted" : deadline ? "deadline reached" : "interrupted";
}

asio::awaitable<void> engine::attempt(http_connection& connection, std::uint64_t handle,
                                      bool connected, worker_buffers& w) {
  slot& s = slots_[handle];
  if (s.attempts == 0 && s.reads == 0) s.first_send = clock::now();
  attempt_request in;
  in.update = s.op;
  // Read first: the GET until the document is read, then the PATCH; each has its own
  // count of attempts for the retry policy.
  in.read = read_first_ && !s.read_done;
  if (in.read) {
    in.target = s.read_target;
    in.attempt = ++s.reads;
    stats_.record_read();
  } else {
    in.target = s.target;
    in.attempt = ++s.attempts;
    if (read_first_ && in.attempt == 1) stats_.record_patch_after_read();
  }
  in.auth_refreshed = s.auth_retried;
  in.deadline = control_.deadline();
  if (connected) ++in_flight_;
  auto in_flight_at_send = static_cast<unsigned>(in_flight_);
  co_await client_.attempt(connection, connected, in, w);
  const attempt_result& result = w.result;
  if (connected) --in_flight_;
  const reply_judgement& j = w.judgement;
  auto now = result.answered;
  auto latency = now - s.first_send;
  s.last_status = j.status; // 0 when no answer this time: an older status would mislead
  if (!j.applied()) {
    s.last_error = j.error;
    if (in.read && !options_.plan) s.last_error.insert(0, "reading the job before the update: ");
  }
  // The request may still reach the server or be applied later (a stalled segment, a
  // proxy that queued it, a backend still working): retrying it is harmless, but the
  // job's next update waits until settle time has passed, so a late copy lands first.
  if (j.in_doubt) {
    scheduler_.hold_job(handle, now + settle_);
    if (!in.read) s.patch_in_doubt = true;
  }
  stats_.record_attempt(s.op.op, j.outcome,
                        std::chrono::duration_cast<std::chrono::nanoseconds>(now - result.sent),
                        connected);
  bool throttled = j.outcome.cls == error_class::http_status &&
                   (j.outcome.status == 429 || j.outcome.status == 503);
  if (throttle_monitor_.record(throttled, now))
    limiter_.on_throttled(now);
  else if (!throttled)
    limiter_.on_success(now);
  if (controller_ && j.status != 0) adapt(result, throttled, in_flight_at_send);

  if (j.applied()) {
    if (in.read)
      after_read(handle, j, w, latency, now);
    else
      finish(handle, outcome::ok, &j, latency);
    co_return;
  }
  if (j.verdict == reply_verdict::final_fail) {
    s.fail_reason = result.fail_reason;
    finish(handle, outcome::failed, nullptr, latency);
    co_return;
  }
  // A final answer (a 404, say) ends the line as such, stopping or not: the record, byError
  // and the metrics all say what the server said. (A transport failure while stopping is
  // most likely our own cancel: interrupted.)
  if (result.decision.kind == retry_action::final && (j.status != 0 || !client_.stopping())) {
    give_up(handle, j, result, latency);
    co_return;
  }
  if (client_.stopping()) {
    if (client_.aborted()) s.last_error += " (run aborted)";
    s.fail_reason = stop_reason(client_.aborted(), status_.deadline_exceeded);
    finish(handle, outcome::failed, nullptr, latency);
    co_return;
  }
  switch (result.decision.kind) {
  case retry_action::retry:
    scheduler_.defer(handle, result.decision.at);
    wake_one(); // an idle worker sleeping past the retry's time sets its timer again
    break;
  case retry_action::refresh_auth_then_retry:
    s.auth_retried = true;
    scheduler_.defer(handle, now);
    wake_one();
    break;
  case retry_action::final:
    give_up(handle, j, result, latency);
    break;
  }
}

void engine::give_up(std::uint64_t handle, const reply_judgement& j, const attempt_result& result,
                     clock::duration latency) {
  slot& s = slots_[handle];
  s.fail_reason = result.fail_reason;
  if (result.decision.reason == final_reason::not_retryable &&
      j.outcome.cls == error_class::http_status &&
      resume_state::is_permanent_failure(j.outcome.status))
    stats_.record_failed_for_good();
  if (result.decision.reason != final_reason::not_retryable &&
      result.decision.reason != final_reason::succeeded) {
    s.last_error += " (";
    s.last_error += to_string(result.decision.reason);
    s.last_error += ')';
  }
  finish(handle, outcome::failed, nullptr, latency);
}

asio::awaitable<void> engine::worker() {
  http_connection connection(io_.get_executor(), &client_.tls, client_.server);
  auto registered = client_.register_connection(connection);
  worker_buffers w;
  asio::steady_timer timer(io_);
  while (!client_.stopping() && !all_done()) {
    std::optional<std::uint64_t> handle;
    if (may_start()) handle = scheduler_.next(clock::now());
    if (handle) {
      if (auto failed_line = scheduler_.withheld(*handle)) {
        withhold(*handle, *failed_line);
        continue;
      }
    }
    if (!handle) {
      // Paused or at the limit, this worker waits until woken; else until a retry is due.
      auto due = may_start() ? scheduler_.next_due() : std::nullopt;
      timer.expires_at(due ? *due : clock::time_point::max());
      idle_workers_.push_back(&timer);
      co_await timer.async_wait(use_tuple);
      std::erase(idle_workers_, &timer);
      continue;
    }
    ++active_;
    bool have_token = co_await client_.ensure_token();
    if (!have_token) break; // stopping: drain_unfinished() settles the update
    // Connect first, then pace to the global rate (retries count like first attempts):
    // the token is taken right before the request leaves, so the server sees the rate.
    bool connected = co_await connection.prepare(options_.attempt_timeout, w.reply);
    auto when = limiter_.reserve(clock::now());
    while (when > clock::now()) {
      timer.expires_at(when);
      rate_waiters_.push_back(&timer);
      auto [cancelled] = co_await timer.async_wait(use_tuple);
      std::erase(rate_waiters_, &timer);
      if (!cancelled) break;                 // its time came
      when = limiter_.reserve(clock::now()); // the rate changed meanwhile: ask again
    }
    if (paused_) {
      // Paused while connecting or pacing: the update waits, untried, for `resume`.
      --active_;
      scheduler_.defer(*handle, clock::now());
      continue;
    }
    if (test_worker_throw_after_ && ++test_attempts_ == test_worker_throw_after_)
      throw std::logic_error("test fault: a worker threw (JOBPATCH_TEST_WORKER_THROW_AFTER)");
    co_await attempt(connection, *handle, connected, w);
    --active_;
  }
  wake_all();
}

// --- requests in flight and live control ----------------------------------------------

void engine::set_limit(unsigned limit, clock::time_point now) {
  bool more = limit > limit_;
  limit_ = limit;
  stats_.concurrency().record(seconds_since_start(now), limit);
  if (!more) return;
  if (workers_ && workers_->started() < limit) workers_->spawn(limit - workers_->started());
  wake_free_workers();
}

void engine::wake_free_workers() {
  for (unsigned free = limit_ - std::min(limit_, active_); free > 0 && !idle_workers_.empty();
       --free)
    wake_one();
}

void engine::adapt(const attempt_result& result, bool throttled, unsigned in_flight_at_send) {
  controller_->on_answer(result.answered - result.sent, throttled, in_flight_at_send,
                         result.answered);
  if (controller_->limit() != limit_) set_limit(controller_->limit(), result.answered);
}

void engine::log_change(const std::string& what, const std::string& detail) {
  auto now = clock::now();
  stats_.concurrency().record_change(seconds_since_start(now), what);
  sink_.output().append_to(output_thread::standard_error) +=
      "jobpatch: control: " + what + (detail.empty() ? "" : " (" + detail + ")") + "\n";
}

std::string engine::on_control(const control_command& command) {
  auto now = clock::now();
  std::string what = to_string(command);
  std::string detail;
  switch (command.what) {
  case control_command::kind::status:
    return control_status();
  case control_command::kind::pause:
    detail = paused_ ? "already paused" : "no new request starts; those in flight finish";
    paused_ = true;
    break;
  case control_command::kind::resume:
    detail = paused_ ? "" : "was not paused";
    paused_ = false;
    wake_free_workers();
    break;
  case control_command::kind::rate:
    limiter_.set_rate(command.rate * rate_margin, burst_of(options_, command.rate), now);
    for (auto* timer : rate_waiters_) timer->cancel();
    break;
  case control_command::kind::connections:
    if (command.connections > descriptors_for_connections())
      return control_reply_error(
          "connections " + std::to_string(command.connections) +
          " needs more open files than the limit (ulimit -n) leaves: at most " +
          std::to_string(descriptors_for_connections()));
    if (command.connections == 0) {
      unsigned most = options_.auto_connections
                          ? options_.connections
                          : std::min(std::max(limit_, default_auto_max_connections),
                                     descriptors_for_connections());
      controller_.emplace(concurrency_config{.max_limit = most});
      stats_.concurrency().set_automatic(true);
      set_limit(controller_->limit(), now);
      detail = "adapting from " + std::to_string(limit_) + " up to " + std::to_string(most);
    } else {
      controller_.reset();
      stats_.concurrency().set_automatic(false);
      set_limit(command.connections, now);
    }
    break;
  }
  log_change(what, detail);
  std::string reply;
  json_writer json(reply);
  json.begin_object().boolean("ok", true).string("change", what);
  if (!detail.empty()) json.string("detail", detail);
  json.end_object();
  return reply;
}

unsigned engine::descriptors_for_connections() {
  // As the preflight's check_descriptors: one socket per connection, and room for the
  // run's own files.
  constexpr rlim_t own_files = 32;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return control_max_connections;
  rlim_t most = limit.rlim_cur > own_files ? limit.rlim_cur - own_files : 1;
  return static_cast<unsigned>(std::min<rlim_t>(most, control_max_connections));
}

std::string engine::control_status() const {
  std::string reply;
  json_writer json(reply);
  json.begin_object()
      .boolean("ok", true)
      .number("done", stats_.total())
      .number("lines", hooks_.lines_total ? *hooks_.lines_total : lines_seen_)
      .number("succeeded", stats_.count(outcome::ok))
      .number("failed", stats_.count(outcome::failed))
      .number("inFlight", in_flight_)
      .number("retrying", scheduler_.deferred_count());
  // Requests/s, null when unlimited (the limiter's 0).
  for (auto [name, rate] : {std::pair{"rate", limiter_.configured_rate()},
                            std::pair{"effectiveRate", limiter_.effective_rate()}}) {
    if (rate > 0)
      json.fixed(name, rate / rate_margin, 3);
    else
      json.null(name);
  }
  json.number("connections", limit_)
      .string("connectionsMode", controller_ ? "auto" : "fixed")
      .boolean("paused", paused_)
      .fixed("elapsedSeconds", seconds_since_start(clock::now()), 3)
      .end_object();
  return reply;
}

// --- stopping -------------------------------------------------------------------------

void engine::stop_reading() {
  feeder_.stop();
  wake_all();
}

bool engine::stop_if_output_failed() {
  if (handoff_.error().empty()) return false;
  if (status_.output_failed) return true;
  const std::string& what = handoff_.error();
  int code = handoff_.error_code();
  if (options_.plan)
    client_.abort("the plan could not be written: " + what + " (errno " + std::to_string(code) +
                  "); reading stopped");
  else
    client_.abort("results could not be written: " + what + " (errno " + std::to_string(code) +
                  "); sending stopped, what was recorded before stays whole, run again with "
                  "--resume once the file can be written");
  status_.output_failed = true;
  return true;
}

void engine::drain_unfinished() {
  // Updates that were tried but not finished end as failed; untried ones were never sent
  // and stay without a record (a --resume run sends them).
  for (std::uint64_t handle = 0; handle < slots_.size(); ++handle) {
    slot& s = slots_[handle];
    if (!s.in_use) continue;
    if (s.attempts == 0) {
      slots_.release(handle);
      ++status_.not_attempted;
      sink_.record_unsent(s.raw_line);
      feeder_.release(1, s.held_bytes);
      continue;
    }
    s.fail_reason = stop_reason(client_.aborted(), status_.deadline_exceeded);
    s.last_error += client_.aborted()           ? " (run aborted)"
                    : status_.deadline_exceeded ? " (deadline reached before a retry)"
                                                : " (interrupted before a retry)";
    finish(handle, outcome::failed, nullptr, clock::now() - s.first_send);
  }
}

run_control::actions engine::control_actions() {
  run_control::actions a;
  a.stop_on_signal = [this](int signal) {
    status_.signal = signal;
    client_.stop();
  };
  a.cut_off = [this] { client_.close_connections(); };
  a.leave_now = [this](int signal) {
    // Leave at once, keeping what was recorded so far (written by the writer thread; this
    // thread only waits for it), and say what is left without a record; the caller's
    // summary and metrics say it too, with the exit code.
    std::string message = leave_now_message();
    sink_.output().append_to(output_thread::standard_error) += message;
    handoff_.write_out();
    int code = 128 + signal;
    if (hooks_.on_leave_now) {
      run_status status = status_;
      status.aborted = true;
      status.abort_reason = message.substr(std::string_view("jobpatch: ").size());
      status.abort_reason.pop_back(); // the line end
      hooks_.on_leave_now(status, code);
      handoff_.write_out();
    }
    if (control_socket_) control_socket_->close(); // removed at exit, this one too
    feeder_.abandon();
    ::_exit(code);
  };
  a.stop_on_deadline = [this] {
    status_.deadline_exceeded = true;
    client_.stop();
  };
  a.every_interval = [this](clock::time_point now) { every_interval(now); };
  return a;
}

std::string engine::leave_now_message() const {
  std::uint64_t held = 0, patched = 0;
  for (std::uint64_t handle = 0; handle < slots_.size(); ++handle) {
    if (!slots_[handle].in_use) continue;
    ++held;
    if (slots_[handle].attempts > 0) ++patched;
  }
  std::string out = "jobpatch: second signal: leaving at once; " + std::to_string(held);
  if (options_.plan) return out + " lines are left without a plan (a plan writes to no job)\n";
  out += " lines are left without a record (" + std::to_string(patched) +
         " sent a PATCH that may have been applied): --resume sends them again";
  out += options_.undo_out.empty() ? "\n" : "; every PATCH sent has its undo line on disk\n";
  return out;
}

void engine::every_interval(clock::time_point now) {
  // The tick first: its progress line and metrics go with this hand-over.
  if (hooks_.on_tick && now - last_tick_ >= hooks_.tick_interval) {
    last_tick_ = now;
    hooks_.on_tick(engine_tick{scheduler_.deferred_count(), in_flight_, limit_, paused_});
  }
  handoff_.hand_over(now);
}

run_status engine::run() {
  // glibc reads /etc/localtime on the first gmtime, which OpenSSL's certificate check
  // calls in the first handshake: read it now, so the io thread opens no file mid-run.
  ::tzset();
  client_.start();
  feeder_.start();
  control_.start();

  auto all_workers_done = [&] {
    control_.finish(); // the scheduler is no longer consulted
    if (control_socket_) control_socket_->close();
    drain_unfinished();
    feeder_.stop();
    // Stop the signal watcher and any other waits: the io_context has nothing left to do.
    io_.stop();
  };
  // Auto starts a few workers and adds more as its limit grows (set_limit); a fixed
  // --connections starts them all.
  if (options_.auto_connections)
    controller_.emplace(concurrency_config{.max_limit = options_.connections});
  limit_ = controller_ ? controller_->limit() : options_.connections;
  stats_.concurrency().start(limit_, options_.auto_connections);
  workers_.emplace(
      io_, [this] { return worker(); },
      [this](std::string reason) { client_.abort(std::move(reason)); }, all_workers_done);
  workers_->spawn(limit_);
  if (!options_.control.empty()) {
    control_socket_.emplace(io_, options_.control,
                            [this](const control_command& c) { return on_control(c); });
    control_socket_->start();
  }
  io_.run();
  if (control_socket_) control_socket_->close();
  feeder_.join();
  // Batches the reader handed over after the loop stopped: counted (and listed) as unsent.
  io_.restart();
  io_.poll();
  if (hooks_.on_tick) hooks_.on_tick(engine_tick{0, 0, limit_, paused_}); // the final counts
  // Everything recorded reaches its file (the caller syncs): a write error found now
  // still aborts the run (exit 4) with its reason.
  handoff_.write_out();
  stats_.set_token_exchanges(client_.tokens.exchanges());
  status_.aborted = client_.aborted();
  status_.abort_reason = client_.abort_reason();
  if (scheduler_.settle_waits())
    status_.notes.push_back(
        std::to_string(scheduler_.settle_waits()) +
        " updates waited for an unanswered request of their job to settle "
        "(--settle " +
        std::to_string(std::chrono::duration_cast<milliseconds>(settle_).count()) + " ms)");
  tracker_.add_final_notes();
  if (!feeder_.error().empty() && !status_.aborted) {
    status_.aborted = true;
    status_.abort_reason = "reading the manifest failed: " + feeder_.error();
  }
  return status_;
}

} // namespace

run_status run_engine(const apply_options& options, line_source& source, result_sink& sink,
                      run_statistics& stats, const engine_hooks& hooks,
                      const read_first_state& read_first) {
  engine e(options, source, sink, stats, hooks, read_first);
  return e.run();
}

} // namespace jobpatch::net
