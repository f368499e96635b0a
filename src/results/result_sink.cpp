#include <jobpatch/results/result_sink.hpp>

#include <cstring>
#include <system_error>

namespace jobpatch {

result_sink::result_sink(const std::string& results_path, file_writer::mode results_mode,
                         const std::string& failed_out_path) {
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

void result_sink::record(const result_record& r, std::string_view raw_line) {
  ++records_;
  if (!error_.empty()) return;
  if (results_.is_open()) {
    append_ndjson(results_.buffer(), r);
    guarded([&] { results_.commit(); });
  }
  if (failed_.is_open() && r.result == outcome::failed && !raw_line.empty()) {
    failed_.buffer() += raw_line;
    failed_.buffer() += '\n';
    guarded([&] { failed_.commit(); });
  }
}

void result_sink::record_unsent(std::string_view raw_line) {
  if (!failed_.is_open() || raw_line.empty()) return;
  failed_.buffer() += raw_line;
  failed_.buffer() += '\n';
  failed_.commit();
}

void result_sink::flush(bool durable) {
  guarded([&] {
    if (results_.is_open()) durable ? results_.sync() : results_.flush();
    if (failed_.is_open()) failed_.flush();
  });
}

void result_sink::close() {
  guarded([&] {
    if (results_.is_open()) results_.sync();
    results_.close();
    failed_.close();
  });
}

} // namespace jobpatch
