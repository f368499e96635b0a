#include <jobpatch/stats/run_statistics.hpp>
#include <jobpatch/text/timestamp.hpp>

#include <jobpatch/text/json_writer.hpp>

#include <algorithm>
#include <cstdio>

namespace jobpatch {
namespace {

double to_ms(std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1e6; }

} // namespace

void run_statistics::record_attempt(op_kind op, attempt_outcome result,
                                    std::chrono::nanoseconds service, bool sent) {
  ++attempts_;
  if (sent) ++requests_;
  ++ops_[static_cast<std::size_t>(op)].attempts;
  bool answered = result.cls == error_class::none || result.cls == error_class::http_status;
  if (answered && result.status > 0 && result.status < max_status)
    ++by_status_[static_cast<std::size_t>(result.status)];
  else
    ++by_error_[static_cast<std::size_t>(result.cls)];
  service_.record(service);
}

void run_statistics::record_outcome(op_kind op, outcome result, unsigned attempts,
                                    std::chrono::nanoseconds latency) {
  auto& s = ops_[static_cast<std::size_t>(op)];
  switch (result) {
  case outcome::ok:
    ++s.ok;
    break;
  case outcome::failed:
    ++s.failed;
    break;
  case outcome::invalid:
    ++s.invalid;
    return;
  case outcome::skipped:
    ++s.skipped;
    return;
  case outcome::unchanged:
    ++s.unchanged;
    break;
  }
  if (attempts == 0) return; // never sent: no latency to speak of
  ++lines_sent_;
  s.latency.record(latency);
  latency_.record(latency);
}

void run_statistics::record_invalid(std::optional<op_kind> op, bool in_every_shard) {
  if (in_every_shard) ++invalid_in_every_shard_[op ? static_cast<std::size_t>(*op) : op_kind_count];
  if (op)
    ++ops_[static_cast<std::size_t>(*op)].invalid;
  else
    ++invalid_without_op_;
}

std::uint64_t run_statistics::count(outcome o) const noexcept {
  std::uint64_t n = o == outcome::invalid ? invalid_without_op_ : 0;
  for (const auto& s : ops_) {
    switch (o) {
    case outcome::ok:
      n += s.ok;
      break;
    case outcome::failed:
      n += s.failed;
      break;
    case outcome::invalid:
      n += s.invalid;
      break;
    case outcome::skipped:
      n += s.skipped;
      break;
    case outcome::unchanged:
      n += s.unchanged;
      break;
    }
  }
  return n;
}

std::uint64_t run_statistics::total() const noexcept {
  return count(outcome::ok) + count(outcome::failed) + count(outcome::invalid) +
         count(outcome::skipped) + count(outcome::unchanged);
}

std::uint64_t run_statistics::retries() const noexcept {
  // Lines withheld or stopped before their first attempt made none: they are not "sent".
  std::uint64_t firsts = lines_sent_ + patches_after_read_;
  return attempts_ > firsts ? attempts_ - firsts : 0;
}

void run_statistics::record_failure_reason(std::string_view reason) {
  for (auto& [name, n] : reasons_)
    if (name == reason) {
      ++n;
      return;
    }
  reasons_.emplace_back(reason, 1);
}

std::vector<std::pair<int, std::uint64_t>> run_statistics::status_counts() const {
  std::vector<std::pair<int, std::uint64_t>> out;
  for (int code = 0; code < max_status; ++code)
    if (by_status_[code]) out.emplace_back(code, by_status_[code]);
  return out;
}

std::vector<std::pair<error_class, std::uint64_t>> run_statistics::error_counts() const {
  std::vector<std::pair<error_class, std::uint64_t>> out;
  for (std::size_t c = 0; c < error_class_count; ++c)
    if (by_error_[c]) out.emplace_back(static_cast<error_class>(c), by_error_[c]);
  return out;
}

void run_statistics::write_answers_json(json_writer& json, bool final_reasons) const {
  json.begin_object("byStatus");
  for (auto [code, n] : status_counts()) json.number(std::to_string(code), n);
  json.end_object().begin_object("byError");
  if (final_reasons) {
    for (const auto& [reason, n] : reasons_) json.number(reason, n);
    json.end_object().begin_object("errorsByClass");
  }
  for (auto [cls, n] : error_counts()) json.number(identifier(cls), n);
  json.end_object();
}

std::string run_statistics::summary_text(const run_status& status) const {
  char line[512];
  std::string out;
  double rps = status.wall_seconds > 0 ? static_cast<double>(attempts_) / status.wall_seconds : 0;
  // Only runs that read before writing (--skip-unchanged) can have unchanged lines.
  std::string unchanged_text;
  if (std::uint64_t n = count(outcome::unchanged); n > 0)
    unchanged_text = ", " + std::to_string(n) + " unchanged";
  // Every line the run settled or stopped short of: the lines never sent are counted too,
  // so a run refused at its first request still says how many lines it had.
  if (status.not_attempted)
    unchanged_text += ", " + std::to_string(status.not_attempted) + " not sent";
  std::snprintf(line, sizeof line,
                "%llu lines: %llu ok, %llu failed, %llu invalid, %llu skipped%s; %llu attempts "
                "(%llu retries) in %.2f s, %.0f attempts/s\n",
                static_cast<unsigned long long>(total()) + status.not_attempted,
                static_cast<unsigned long long>(count(outcome::ok)),
                static_cast<unsigned long long>(count(outcome::failed)),
                static_cast<unsigned long long>(count(outcome::invalid)),
                static_cast<unsigned long long>(count(outcome::skipped)), unchanged_text.c_str(),
                static_cast<unsigned long long>(attempts_),
                static_cast<unsigned long long>(retries()), status.wall_seconds, rps);
  out += line;
  if (latency_.count() > 0) {
    std::snprintf(line, sizeof line,
                  "latency per line: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, "
                  "p99.99 %.2f ms, max %.2f ms\n",
                  to_ms(latency_.percentile(0.5)), to_ms(latency_.percentile(0.9)),
                  to_ms(latency_.percentile(0.99)), to_ms(latency_.percentile(0.999)),
                  to_ms(latency_.percentile(0.9999)), to_ms(latency_.max()));
    out += line;
  }
  std::string statuses;
  for (auto [code, n] : status_counts()) {
    statuses += statuses.empty() ? "" : ", ";
    statuses += std::to_string(code) + ": " + std::to_string(n);
  }
  for (auto [cls, n] : error_counts()) {
    statuses += statuses.empty() ? "" : ", ";
    statuses += std::string(to_string(cls)) + ": " + std::to_string(n);
  }
  if (!statuses.empty()) out += "answers: " + statuses + "\n";
  if (concurrency_.automatic() || concurrency_.least() != concurrency_.most())
    out += "requests in flight allowed: " + std::to_string(concurrency_.current()) +
           " at the end (" + std::to_string(concurrency_.least()) + " to " +
           std::to_string(concurrency_.most()) +
           (concurrency_.automatic() ? ", adapted to the server's latency)\n" : ")\n");
  if (!reasons_.empty()) {
    // The top reasons lines failed for, most frequent first.
    auto top = reasons_;
    std::stable_sort(top.begin(), top.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    out += "failed lines by reason:\n";
    for (std::size_t i = 0; i < top.size() && i < 5; ++i)
      out += "  " + std::to_string(top[i].second) + " " + top[i].first + "\n";
    if (top.size() > 5) out += "  ... and " + std::to_string(top.size() - 5) + " more reasons\n";
  }
  if (std::uint64_t unverified = verified_false_)
    out += std::to_string(unverified) +
           " lines were answered 200 without the values sent (verified:false): the server "
           "acknowledged updates it may not have applied\n";
  if (in_doubt_)
    out += std::to_string(in_doubt_) +
           " failed lines may have been applied (\"inDoubt\" in their records: sent, then "
           "no usable answer); --resume sends them again, and their undo lines (--undo-out) "
           "were written before they were sent\n";
  if (failed_earlier_)
    out += std::to_string(failed_earlier_) +
           " lines failed for good (HTTP 400/403/404) in an earlier run and were not sent "
           "again (they are in --failed-out; --retry-failed sends them)\n";
  for (const auto& note : status.notes) out += "note: " + note + "\n";
  if (status.changed)
    out += std::to_string(status.changed) +
           " lines recorded ok by an earlier run had changed in "
           "the manifest and were applied again (first: line " +
           std::to_string(status.first_changed) + ")\n";
  if (status.signal)
    out += "interrupted by signal " + std::to_string(status.signal) +
           "; run again with --resume to finish\n";
  if (status.deadline_exceeded) out += "stopped at the --deadline\n";
  if (status.aborted) {
    std::string_view reason = status.abort_reason;
    if (reason.starts_with("aborting: ")) reason.remove_prefix(10);
    out += "aborted: ";
    out += reason;
    out += '\n';
  }
  return out;
}

std::string run_statistics::summary_json(const run_status& status, int exit_code,
                                         const std::function<void(json_writer&)>& more) const {
  std::string out;
  json_writer json(out);
  json.begin_object();
  if (!status.run_id.empty()) json.string("runId", status.run_id);
  std::uint64_t in_every_shard = 0;
  for (auto n : invalid_in_every_shard_) in_every_shard += n;
  json.number("total", total())
      .number("ok", count(outcome::ok))
      .number("failed", count(outcome::failed))
      .number("invalid", count(outcome::invalid))
      .number("skipped", count(outcome::skipped))
      .number("invalidInEveryShard", in_every_shard)
      .number("unchanged", count(outcome::unchanged))
      .number("notAttempted", status.not_attempted)
      .number("changedSinceResume", status.changed)
      .number("failedEarlier", failed_earlier_)
      .number("attempts", attempts_)
      .number("retries", retries())
      .number("requests", requests_)
      .number("reads", reads_)
      .number("unverified", verified_false_)
      .number("inDoubt", in_doubt_)
      .number("tokenRefreshes", token_refreshes_);
  if (!status.shard.empty()) json.string("shard", status.shard);
  if (status.started_unix_ms > 0)
    json.string("startedAt", format_timestamp(status.started_unix_ms))
        .integer("startedAtUnixMs", status.started_unix_ms);
  if (status.ended_unix_ms > 0)
    json.string("endedAt", format_timestamp(status.ended_unix_ms))
        .integer("endedAtUnixMs", status.ended_unix_ms);
  json.number("manifestLines", status.manifest_lines);
  json.begin_object("byOp");
  for (std::size_t i = 0; i < op_kind_count; ++i) {
    const auto& s = ops_[i];
    json.begin_object(to_string(static_cast<op_kind>(i)))
        .number("ok", s.ok)
        .number("failed", s.failed)
        .number("invalid", s.invalid)
        .number("skipped", s.skipped)
        .number("unchanged", s.unchanged)
        .number("attempts", s.attempts)
        .number("invalidInEveryShard", invalid_in_every_shard_[i]);
    write_latency_json(json, "latencyMs", s.latency);
    write_histogram_json(json, "latencyHistogram", s.latency);
    json.end_object();
  }
  json.end_object();
  write_answers_json(json, true);
  write_latency_json(json, "latencyMs", latency_);
  write_latency_json(json, "serviceMs", service_);
  write_histogram_json(json, "latencyHistogram", latency_);
  write_histogram_json(json, "serviceHistogram", service_);
  concurrency_.write_json(json);
  json.fixed("wallSeconds", status.wall_seconds, 3)
      .fixed("requestsPerSecond",
             status.wall_seconds > 0 ? static_cast<double>(attempts_) / status.wall_seconds : 0, 1)
      .boolean("deadlineExceeded", status.deadline_exceeded);
  if (more) more(json);
  write_run_end_json(json, status.signal, status.aborted, status.abort_reason, exit_code);
  json.end_object();
  out += '\n';
  return out;
}

void write_run_end_json(json_writer& json, int signal, bool aborted,
                        const std::string& abort_reason, int exit_code) {
  json.boolean("interrupted", signal != 0);
  if (signal) json.integer("signal", signal);
  json.boolean("aborted", aborted);
  if (aborted) json.string("abortReason", abort_reason);
  json.integer("exitCode", exit_code);
}

} // namespace jobpatch
