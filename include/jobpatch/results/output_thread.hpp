#pragma once
// The writer thread: every write, fdatasync and rename of a run's output files (results,
// undo, --failed-out, plan, progress on stderr, metrics, summary) happens on it, never on
// the thread that drives the connections, so a disk that stalls stalls no request.
//
// Double-buffered: the producer (one thread, the engine's io thread) appends whole records
// to a front buffer per file; hand_over() swaps every front with the back the writer has
// emptied (one short lock, no copy, no allocation once the buffers have grown) and wakes
// the writer, which writes the backs while the producer fills the fronts again.

#include <jobpatch/results/file_writer.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace jobpatch {

// What the writer thread has done, in hand-over numbers (hand_over() returns them).
struct output_progress {
  std::uint64_t written = 0; // batches up to this one reached the kernel (write(2))
  std::uint64_t durable = 0; // ... and were fdatasync'ed (a batch handed over `durable`)
  // The first write or fdatasync error of a records file ("cannot write FILE: No space left
  // on device"): nothing more is written to any records file, so what reached them stays
  // whole. The producer must stop the run (exit 4).
  std::string error;
  int error_code = 0;
};

class output_thread {
public:
  using file_id = std::size_t;
  // Replaces a whole file with `content` (write_file_atomically, say); throws on failure.
  using whole_writer = void (*)(const std::string& path, std::string_view content);

  enum class kind {
    records, // a journal (results, undo, failed lines, plan): its first error stops them all
    other,   // stderr, metrics, summary: an error is kept for the file, nothing else stops
  };

  // Standard error, always there: messages and the progress line (see latest()).
  static constexpr file_id standard_error = 0;

  output_thread();
  // Writes out what was handed over and closes the files (errors are dropped: call
  // close() to see them), then ends the thread.
  ~output_thread();
  output_thread(const output_thread&) = delete;
  output_thread& operator=(const output_thread&) = delete;

  // Producer: adds a file (waiting, if need be, until the writer is between batches).
  // Within a batch files are written in this order, except that one added `before` another
  // is written before it (an undo line reaches its file before the record it undoes). With
  // `sync`, the file is fdatasync'ed in each durable batch and at close().
  file_id add(file_writer file, kind k, bool sync, std::optional<file_id> before = {});
  // A file written whole (whenever content() is not empty at a hand-over) by `write`.
  file_id add_whole(std::string path, whole_writer write, kind k);

  // Producer: text appended to `id` (whole records only).
  std::string& append_to(file_id id) noexcept { return files_[id]->front; }
  // Producer: text that replaces what it held when not yet handed over; written after what
  // was appended in the same batch (the progress line, redrawn after the messages).
  std::string& latest(file_id id) noexcept { return files_[id]->front_latest; }
  // Producer: a whole file's next content (see add_whole).
  std::string& content(file_id id) noexcept { return files_[id]->front; }

  // Producer: hands every front over when the writer is idle. Returns the number of the
  // batch that holds everything appended so far (1, 2, ...: a new one, or the last one when
  // there was nothing new; 0 before the first), or nullopt when the writer is still busy
  // with the last batch (nothing changes: call again later). `durable`: the records files
  // are fdatasync'ed after the batch is written.
  std::optional<std::uint64_t> hand_over(bool durable);
  // Producer: waits until the writer is idle, hands everything over and waits until it is
  // written (and synced, with `durable`). For the end of a run and for leaving at once.
  void drain(bool durable);
  // Producer: drain(true), closes the files and ends the thread. Idempotent.
  void close();

  // Called on the writer thread after each batch, with the thread's lock held: keep it
  // short (post it to the producer's loop). Empty: none. Set and cleared by the producer.
  void on_written(std::function<void(const output_progress&)> listener);
  output_progress progress() const;
  // The first error of an `other` file ("cannot write --metrics-file ..."); empty if none.
  std::string error_of(file_id id) const;

private:
  struct file {
    std::string front, front_latest; // producer's
    // Writer's: `writer.buffer()` is the back of an appended file; `back` that of a
    // whole one (whose `writer` is closed).
    file_writer writer;
    std::string back, back_latest;
    std::string path;
    whole_writer write_whole = nullptr;
    kind k = kind::records;
    bool sync = false;
    bool unsynced = false;     // writer's: written since its last fdatasync
    std::string pending_error; // writer's: this batch's error, until run() takes the lock
    std::string error;         // an `other` file's first error (under mutex_)
  };

  void run();
  void swap_fronts();
  // Writes one batch (without the lock); the first records error goes to `error`.
  void write_batch(bool durable, bool records_failed, output_progress& result);
  void write_file(file& f, bool durable, bool records_failed, output_progress& result);

  std::vector<std::unique_ptr<file>> files_;
  std::vector<file*> order_; // write order
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, idle_cv_;
  bool busy_ = false;     // a batch is handed over and not yet written
  bool durable_ = false;  // the batch's
  bool stopping_ = false; // close(): the thread closes the files and ends
  bool closed_ = false;
  std::uint64_t handed_ = 0;     // batches handed over (the last one's number)
  bool unsynced_handed_ = false; // producer's: a batch since the last durable one
  output_progress progress_;     // under mutex_
  std::function<void(const output_progress&)> listener_;
  std::thread thread_;
};

} // namespace jobpatch
