#pragma once
// Where final outcomes go: the results file, the failed-lines manifest and the run's
// statistics. One call per manifest line, never two.

#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/results/output_thread.hpp>
#include <jobpatch/results/result_record.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobpatch {

class result_sink {
public:
  // Records go to files written by `out`'s thread (opened here, before the run); empty
  // paths disable that output. Throws std::system_error when a file cannot be opened.
  // Every record gets the time it was recorded ("ts") and `run_id` ("runId", when given).
  result_sink(output_thread& out, const std::string& results_path, file_writer::mode results_mode,
              const std::string& failed_out_path, std::string run_id = {});

  // --undo-out: opens the undo manifest, 0600 (it holds the jobs' old values, data-source
  // credentials among them), appending with --resume. Throws std::system_error.
  void open_undo(const std::string& path, file_writer::mode m);

  // Records the final outcome of one line. `raw_line` is the manifest line as written,
  // copied to the failed-lines manifest when the outcome is failed.
  // Only appends to the writer thread's buffers: no system call, no lock.
  void record(const result_record& r, std::string_view raw_line = {});
  // Appends one line to the undo manifest (write-ahead: the engine sends the PATCH it undoes
  // only once the writer thread reports it durable). The writer thread writes the undo file
  // before the results file of the same batch.
  void record_undo(std::string_view undo_line);
  // A line that ends this run unsent (deadline, abort, signal; or failed for good in an
  // earlier run): no record, but copied to the failed-lines manifest, so that re-feeding
  // that file completes the manifest.
  void record_unsent(std::string_view raw_line);

  // The writer thread; its progress() holds the first write error ("cannot write FILE: No
  // space left on device"), after which nothing more is written, so what reached the
  // files stays whole. The caller must stop the run when it sees one (exit 4).
  output_thread& output() noexcept { return out_; }

  std::uint64_t records() const noexcept { return records_; }

private:
  output_thread& out_;
  std::optional<output_thread::file_id> results_, failed_, undo_;
  std::uint64_t records_ = 0;
  std::string run_id_;
  std::int64_t stamp_ms_ = -1; // the millisecond `stamp_` shows
  std::string stamp_;
};

} // namespace jobpatch
