#pragma once
// Where final outcomes go: the results file, the failed-lines manifest and the run's
// statistics. One call per manifest line, never two.

#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/results/result_record.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace jobpatch {

class result_sink {
public:
  // Empty paths disable that output. Throws std::system_error when a file cannot be opened.
  // Every record gets the time it was recorded ("ts") and `run_id` ("runId", when given).
  result_sink(const std::string& results_path, file_writer::mode results_mode,
              const std::string& failed_out_path, std::string run_id = {});

  // --undo-out: opens the undo manifest, 0600 (it holds the jobs' old values, data-source
  // credentials among them), appending with --resume. Throws std::system_error.
  void open_undo(const std::string& path, file_writer::mode m);

  // Records the final outcome of one line. `raw_line` is the manifest line as written,
  // copied to the failed-lines manifest when the outcome is failed.
  // `undo_line`, when not empty, goes to the undo manifest, written out before the record
  // can reach the results file: a line recorded ok always has its undo line on disk.
  void record(const result_record& r, std::string_view raw_line = {},
              std::string_view undo_line = {});
  // A line that ends this run unsent (deadline, abort, signal; or failed for good in an
  // earlier run): no record, but copied to the failed-lines manifest, so that re-feeding
  // that file completes the manifest.
  void record_unsent(std::string_view raw_line);

  // Writes buffered records out as whole lines (called every few milliseconds and at
  // the end); with `durable`, also fdatasync()s the results file, so that a crash or
  // power loss can only lose what was recorded since the last durable flush.
  void flush(bool durable = false);
  void close();

  // Never throw once open: the first write or fdatasync error is kept here ("cannot write
  // FILE: No space left on device") and nothing more is written, so what reached the
  // file stays whole. The caller must stop the run when it sees one (exit 4).
  const std::string& write_error() const noexcept { return error_; }
  int write_errno() const noexcept { return error_code_; }

  std::uint64_t records() const noexcept { return records_; }

private:
  template <class Action>
  void guarded(Action action);

  file_writer results_, failed_, undo_;
  std::uint64_t records_ = 0;
  std::string error_;
  int error_code_ = 0;
  std::string run_id_;
  std::int64_t stamp_ms_ = -1; // the millisecond `stamp_` shows
  std::string stamp_;
};

} // namespace jobpatch
