#pragma once
// What `jobpatch apply --report FILE.html` shows of a run: its counts, latencies, answers,
// why lines failed and the requests allowed in flight, as the input of render_html_report
// (html_report.hpp). Pure: the command adds the settings and the time it was generated.

#include <jobpatch/report/html_report.hpp>

#include <string>
#include <string_view>

namespace jobpatch {

class run_statistics;
struct run_status;

// The report of an apply run that ended with `exit_code`: title, how it ended, counts,
// latencies per line and per attempt, answers, failure reasons and the concurrency record.
// Points into `stats`, which must outlive the rendering.
html_report_input apply_report_input(const run_statistics& stats, const run_status& status,
                                     int exit_code);

// How a run ended, in one line: "exit code 143: stopped by SIGTERM", with the reason it
// was aborted or refused when there is one.
std::string run_ending_text(const run_status& status, int exit_code);

// A base URL as a shared report may show it: scheme, host, port and path; a user or
// password, a query and a fragment are "[redacted]". "[not a URL]" when it does not parse.
std::string shown_base_url(std::string_view url);

} // namespace jobpatch
