#include <jobpatch/stats/run_statistics.hpp>

#include <jobpatch/results/json_text.hpp>

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
  }
  if (attempts == 0) return; // never sent: no latency to speak of
  ++lines_sent_;
  s.latency.record(latency);
  latency_.record(latency);
}

void run_statistics::record_invalid(std::optional<op_kind> op) {
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
    }
  }
  return n;
}

std::uint64_t run_statistics::total() const noexcept {
  return count(outcome::ok) + count(outcome::failed) + count(outcome::invalid) +
         count(outcome::skipped);
}

std::uint64_t run_statistics::retries() const noexcept {
  // Lines withheld or stopped before their first attempt made none: they are not "sent".
  return attempts_ > lines_sent_ ? attempts_ - lines_sent_ : 0;
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

void run_statistics::append_answers_json(std::string& out, bool final_reasons) const {
  out += "\"byStatus\":{";
  bool first = true;
  for (auto [code, n] : status_counts()) {
    if (!first) out += ',';
    first = false;
    out += '"';
    append_int(out, code);
    out += "\":";
    append_uint(out, n);
  }
  out += "},\"byError\":{";
  first = true;
  if (final_reasons) {
    for (const auto& [reason, n] : reasons_) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, reason);
      out += ':';
      append_uint(out, n);
    }
    out += "},\"errorsByClass\":{";
    first = true;
  }
  for (auto [cls, n] : error_counts()) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, identifier(cls));
    out += ':';
    append_uint(out, n);
  }
  out += '}';
}

std::string run_statistics::summary_text(const run_status& status) const {
  char line[512];
  std::string out;
  double rps = status.wall_seconds > 0 ? static_cast<double>(attempts_) / status.wall_seconds : 0;
  std::snprintf(line, sizeof line,
                "%llu lines: %llu ok, %llu failed, %llu invalid, %llu skipped; %llu attempts "
                "(%llu retries) in %.2f s, %.0f attempts/s\n",
                static_cast<unsigned long long>(total()),
                static_cast<unsigned long long>(count(outcome::ok)),
                static_cast<unsigned long long>(count(outcome::failed)),
                static_cast<unsigned long long>(count(outcome::invalid)),
                static_cast<unsigned long long>(count(outcome::skipped)),
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
  if (status.not_attempted)
    out += std::to_string(status.not_attempted) + " lines were read but not sent\n";
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

std::string run_statistics::summary_json(const run_status& status, int exit_code) const {
  std::string out = "{";
  if (!status.run_id.empty()) {
    out += "\"runId\":";
    append_json_string(out, status.run_id);
    out += ',';
  }
  auto number = [&](const char* name, std::uint64_t v) {
    out += '"';
    out += name;
    out += "\":";
    append_uint(out, v);
    out += ',';
  };
  number("total", total());
  number("ok", count(outcome::ok));
  number("failed", count(outcome::failed));
  number("invalid", count(outcome::invalid));
  number("skipped", count(outcome::skipped));
  number("notAttempted", status.not_attempted);
  number("changedSinceResume", status.changed);
  number("failedEarlier", failed_earlier_);
  number("attempts", attempts_);
  number("retries", retries());
  number("requests", requests_);
  number("unverified", verified_false_);
  number("tokenRefreshes", token_refreshes_);
  out += "\"byOp\":{";
  for (std::size_t i = 0; i < op_kind_count; ++i) {
    const auto& s = ops_[i];
    if (i) out += ',';
    append_json_string(out, to_string(static_cast<op_kind>(i)));
    out += ":{";
    number("ok", s.ok);
    number("failed", s.failed);
    number("invalid", s.invalid);
    number("skipped", s.skipped);
    number("attempts", s.attempts);
    out += "\"latencyMs\":";
    append_latency_json(out, s.latency);
    out += '}';
  }
  out += "},";
  append_answers_json(out, true);
  out += ",\"latencyMs\":";
  append_latency_json(out, latency_);
  out += ",\"serviceMs\":";
  append_latency_json(out, service_);
  out += ",\"wallSeconds\":";
  append_fixed(out, status.wall_seconds, 3);
  out += ",\"requestsPerSecond\":";
  append_fixed(
      out, status.wall_seconds > 0 ? static_cast<double>(attempts_) / status.wall_seconds : 0, 1);
  out += ",\"deadlineExceeded\":";
  out += status.deadline_exceeded ? "true" : "false";
  out += ',';
  append_run_end_json(out, status.signal, status.aborted, status.abort_reason, exit_code);
  out += "}\n";
  return out;
}

void append_run_end_json(std::string& out, int signal, bool aborted,
                         const std::string& abort_reason, int exit_code) {
  out += "\"interrupted\":";
  out += signal ? "true" : "false";
  if (signal) {
    out += ",\"signal\":";
    append_int(out, signal);
  }
  out += ",\"aborted\":";
  out += aborted ? "true" : "false";
  if (aborted) {
    out += ",\"abortReason\":";
    append_json_string(out, abort_reason);
  }
  out += ",\"exitCode\":";
  append_int(out, exit_code);
}

} // namespace jobpatch
