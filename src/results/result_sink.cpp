#include <jobpatch/results/result_sink.hpp>
#include <jobpatch/text/timestamp.hpp>

#include <chrono>
#include <cstring>
#include <system_error>

namespace jobpatch {

result_sink::result_sink(const std::string& results_path, file_writer::mode results_mode,
                         const std::string& failed_out_path, std::string run_id)
    : run_id_(std::move(run_id)) {
  if (!results_path.empty()) results_ = file_writer(results_path, results_mode);
  if (!failed_out_path.empty()) failed_ = file_writer(failed_out_path, file_writer::mode::truncate);
}

template <class Action>
void result_sink::guarded(Action action) {
  if (!error_.empty()) return; // after a write error nothing more is written
  try {
    action();
  } catch (const std::system_error& e) {
    error_ = e.what();
    error_code_ = e.code().value();
  }
}

void result_sink::open_undo(const std::string& path, file_writer::mode m) {
  undo_ = file_writer(path, m, true);
}

void result_sink::record(const result_record& r, std::string_view raw_line,
                         std::string_view undo_line) {
  ++records_;
  if (!error_.empty()) return;
  if (undo_.is_open() && !undo_line.empty()) {
    // Written (to the kernel) now: the ok record below may reach the results file with the
    // next periodic flush, and a crash between the two must not lose the undo line.
    undo_.buffer() += undo_line;
    undo_.buffer() += '\n';
    guarded([&] { undo_.flush(); });
    if (!error_.empty()) return;
  }
  if (results_.is_open()) {
    // Outcomes arrive thousands a second: the text is made once per millisecond.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    if (ms != stamp_ms_) {
      stamp_ms_ = ms;
      stamp_ = format_timestamp(ms);
    }
    result_record stamped = r;
    stamped.ts = stamp_;
    stamped.run_id = run_id_;
    append_ndjson(results_.buffer(), stamped);
    guarded([&] { results_.commit(); });
  }
  if (failed_.is_open() && r.result == outcome::failed && !raw_line.empty()) {
    failed_.buffer() += raw_line;
    failed_.buffer() += '\n';
    guarded([&] { failed_.commit(); });
  }
}

void result_sink::record_unsent(std::string_view raw_line) {
  if (!failed_.is_open() || raw_line.empty() || !error_.empty()) return;
  failed_.buffer() += raw_line;
  failed_.buffer() += '\n';
  guarded([&] { failed_.commit(); });
}

void result_sink::flush(bool durable) {
  guarded([&] {
    if (undo_.is_open() && durable) undo_.sync(); // on disk before the records it undoes
    if (results_.is_open()) durable ? results_.sync() : results_.flush();
    if (failed_.is_open()) failed_.flush();
  });
}

void result_sink::close() {
  guarded([&] {
    if (undo_.is_open()) undo_.sync();
    if (results_.is_open()) results_.sync();
    results_.close();
    undo_.close();
    failed_.close();
  });
}

} // namespace jobpatch
