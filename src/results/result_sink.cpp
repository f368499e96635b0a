#include <jobpatch/results/result_sink.hpp>
#include <jobpatch/text/timestamp.hpp>

#include <chrono>

namespace jobpatch {

result_sink::result_sink(output_thread& out, const std::string& results_path,
                         file_writer::mode results_mode, const std::string& failed_out_path,
                         std::string run_id)
    : out_(out), run_id_(std::move(run_id)) {
  using kind = output_thread::kind;
  if (!results_path.empty())
    results_ = out_.add(file_writer(results_path, results_mode), kind::records, true);
  if (!failed_out_path.empty())
    failed_ =
        out_.add(file_writer(failed_out_path, file_writer::mode::truncate), kind::records, false);
}

void result_sink::open_undo(const std::string& path, file_writer::mode m) {
  // Written (and synced) before the results file in every batch: a crash between the two
  // must not leave an ok record without its undo line.
  undo_ = out_.add(file_writer(path, m, true), output_thread::kind::records, true, results_);
}

void result_sink::record_undo(std::string_view undo_line) {
  if (!undo_ || undo_line.empty()) return;
  std::string& undo = out_.append_to(*undo_);
  undo += undo_line;
  undo += '\n';
}

void result_sink::record(const result_record& r, std::string_view raw_line) {
  ++records_;
  if (results_) {
    // Outcomes arrive thousands a second: the text is made once per millisecond.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
    if (ms != stamp_ms_) {
      stamp_ms_ = ms;
      stamp_.clear(); // its capacity is kept: no allocation per millisecond
      append_timestamp(stamp_, ms);
    }
    result_record stamped = r;
    stamped.ts = stamp_;
    stamped.run_id = run_id_;
    append_ndjson(out_.append_to(*results_), stamped);
  }
  if (failed_ && r.result == outcome::failed && !raw_line.empty()) {
    std::string& failed = out_.append_to(*failed_);
    failed += raw_line;
    failed += '\n';
  }
}

void result_sink::record_unsent(std::string_view raw_line) {
  if (!failed_ || raw_line.empty()) return;
  std::string& failed = out_.append_to(*failed_);
  failed += raw_line;
  failed += '\n';
}

} // namespace jobpatch
