#include <jobpatch/report/apply_report.hpp>
#include <jobpatch/stats/run_statistics.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <csignal>
#include <cstddef>

namespace jobpatch {
namespace {

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

// The counts after ok and failed: invalid, skipped and not sent always (a refused or
// stopped run shows where its lines are); unchanged and in doubt when there are any.
void add_more_counts(html_report_input& in, const run_statistics& stats, const run_status& status) {
  in.more_counts.emplace_back("Invalid", stats.count(outcome::invalid));
  in.more_counts.emplace_back("Skipped", stats.count(outcome::skipped));
  if (auto n = stats.count(outcome::unchanged)) in.more_counts.emplace_back("Unchanged", n);
  in.more_counts.emplace_back("Not sent", status.not_attempted);
  if (auto n = stats.in_doubt()) in.more_counts.emplace_back("In doubt", n);
}

} // namespace

std::string run_ending_text(const run_status& status, int exit_code) {
  std::string text = "exit code " + std::to_string(exit_code) + ": ";
  if (status.signal)
    text += "stopped by " + signal_name(status.signal);
  else if (exit_code == 2)
    text += "refused before anything was sent";
  else if (status.output_failed || exit_code == 4)
    text += "an output could not be written";
  else if (status.aborted)
    text += "aborted";
  else if (status.deadline_exceeded)
    text += "stopped at the --deadline";
  else if (exit_code == 0)
    text += "every line applied";
  else
    text += "some lines failed, were invalid or were not sent";
  if (!status.abort_reason.empty()) text += " (" + status.abort_reason + ")";
  return text;
}

html_report_input apply_report_input(const run_statistics& stats, const run_status& status,
                                     int exit_code) {
  html_report_input in;
  in.title = "jobpatch apply report";
  in.measured = html_report_input::basis::line;
  in.ending = run_ending_text(status, exit_code);
  in.requests = stats.total() + status.not_attempted;
  in.ok = stats.count(outcome::ok);
  in.failed = stats.count(outcome::failed);
  add_more_counts(in, stats, status);
  in.attempts = stats.attempts();
  in.retries = stats.retries();
  in.wall_seconds = status.wall_seconds;
  // As the summary's requestsPerSecond and the text summary's "attempts/s".
  in.requests_per_second =
      status.wall_seconds > 0 ? static_cast<double>(stats.attempts()) / status.wall_seconds : 0;
  in.latency = &stats.latency();
  in.service_time = &stats.service_time();
  for (std::size_t i = 0; i < op_kind_count; ++i) {
    auto op = static_cast<op_kind>(i);
    if (const auto& h = stats.op_stats(op).latency; h.count())
      in.endpoints.push_back({std::string(to_string(op)), &h});
  }
  in.status_counts = stats.status_counts();
  for (auto [cls, n] : stats.error_counts()) in.error_counts.emplace_back(to_string(cls), n);
  in.failure_reasons = stats.failure_reasons();
  std::stable_sort(in.failure_reasons.begin(), in.failure_reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  in.concurrency = &stats.concurrency();
  return in;
}

std::string shown_base_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return "[not a URL]";
  std::string out(parsed->scheme());
  out += "://";
  if (parsed->has_userinfo()) out += "[redacted]@";
  out += parsed->encoded_host_and_port();
  out += parsed->encoded_path();
  if (parsed->has_query()) out += "?[redacted]";
  if (parsed->has_fragment()) out += "#[redacted]";
  return out;
}

} // namespace jobpatch
