#pragma once
// The engine's side of the writer thread (results/output_thread.hpp): the io thread hands
// its records over every few milliseconds and asks for fdatasync each --fsync-interval;
// what the writer has written, and its first write error, come back posted to the
// io_context, never by waiting on the disk. A finished line's share of the engine's
// window is given back only once its record is written, so a disk that stalls holds the
// reader back (bounded memory), not the connections.

#include <jobpatch/results/output_thread.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace jobpatch::net {

class output_handoff {
public:
  using clock = std::chrono::steady_clock;
  // Both run on the io thread: `release` gives `lines` and `bytes` back to the window
  // once their records are written; `failed` once, when the first write error is known.
  using release_fn = std::function<void(std::size_t lines, std::size_t bytes)>;
  using failed_fn = std::function<void()>;
  // Runs on the io thread once what was appended before when_durable(id) is on disk.
  using durable_fn = std::function<void(std::uint64_t id)>;

  output_handoff(boost::asio::io_context& io, output_thread& out,
                 std::chrono::milliseconds fsync_interval, release_fn release, failed_fn failed,
                 durable_fn durable = {});
  // Stops the writer's reports (none reaches the io_context after this).
  ~output_handoff();
  output_handoff(const output_handoff&) = delete;
  output_handoff& operator=(const output_handoff&) = delete;

  // Io thread, every few milliseconds: hands what was recorded over to the writer (when it
  // is idle; else once it reports back), durable when --fsync-interval has passed.
  void hand_over(clock::time_point now);
  // Io thread: a finished line whose record was just appended.
  void release_when_written(std::size_t lines, std::size_t bytes) noexcept {
    pending_lines_ += lines;
    pending_bytes_ += bytes;
  }
  // Io thread: write-ahead. Everything appended so far (an undo line, before its PATCH
  // leaves) is handed over at once, and `durable(id)` runs once it is fdatasync'ed (only
  // written, with --fsync-interval 0). Lines appended while the writer is busy go in its
  // next batch: one fdatasync covers them all (group commit). After a write error
  // `durable` never runs: the run stops.
  void when_durable(std::uint64_t id);
  // Ids waiting for when_durable's report.
  std::size_t durable_waiting() const noexcept { return unsent_ids_.size() + syncing_.size(); }
  // Blocks until everything recorded so far is written (not synced), and takes in the
  // writer's report: the end of the engine's run, or a second signal before _exit.
  void write_out();

  // The first write error ("cannot write FILE: No space left on device"), once known.
  const std::string& error() const noexcept { return error_; }
  int error_code() const noexcept { return error_code_; }

private:
  void on_progress(const output_progress& p); // io thread

  struct held {
    std::uint64_t batch;
    std::size_t lines, bytes;
  };
  struct waiting {
    std::uint64_t batch, id;
  };
  bool syncs() const noexcept { return fsync_interval_.count() > 0; }

  boost::asio::io_context& io_;
  output_thread& out_;
  std::chrono::milliseconds fsync_interval_;
  release_fn release_;
  failed_fn failed_;
  durable_fn durable_;
  clock::time_point last_sync_ = clock::now();
  std::size_t pending_lines_ = 0, pending_bytes_ = 0; // recorded, not yet handed over
  std::vector<held> handed_;                          // handed over, not yet written
  std::vector<std::uint64_t> unsent_ids_;             // when_durable ids not yet handed over
  std::vector<waiting> syncing_;                      // handed over, not yet durable
  std::vector<std::uint64_t> ready_;                  // on_progress's: durable now
  std::uint64_t written_ = 0; // the writer's last report: batches up to it are written
  bool retry_ = false;        // a hand-over found the writer busy: hand over when it reports
  std::string error_;
  int error_code_ = 0;
};

} // namespace jobpatch::net
