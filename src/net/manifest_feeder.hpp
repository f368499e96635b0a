#pragma once
// The apply engine's reader thread: reads and validates the manifest ahead of the io
// thread and hands the updates over in batches, bounded by a window of updates held at
// once (in lines and in bytes). Batches come back to the reader once accepted, their items
// holding the storage of finished updates, so that reading does not allocate.

#include <jobpatch/manifest/line_source.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace jobpatch::net {

class manifest_feeder {
public:
  // On the io thread: `accept` with each batch read, `on_end` once after the last one.
  manifest_feeder(boost::asio::io_context& io, line_source& source, std::size_t window,
                  std::size_t window_bytes, std::function<void(std::span<source_item>)> accept,
                  std::function<void()> on_end);
  ~manifest_feeder();
  manifest_feeder(const manifest_feeder&) = delete;
  manifest_feeder& operator=(const manifest_feeder&) = delete;

  void start();
  // Any thread: the reader stops before its next line (a read blocked on a pipe too).
  void stop();
  // Waits for the reader thread to end.
  void join();
  // The process is about to _exit (a second signal): the reader stops and is let go, not
  // waited for (a read blocked on a pipe may never end).
  void abandon();

  // io thread: `lines` updates handed over (together `bytes`, see held_bytes_of) are
  // final, so the window has room for more.
  void release(std::size_t lines, std::size_t bytes);
  // io thread: the last batch has been accepted.
  bool done() const noexcept { return done_; }
  // After join(): why reading failed, or empty.
  const std::string& error() const noexcept { return error_; }

  // What an update costs the byte window: its body, its raw line (kept for --failed-out)
  // and its job id, plus a fixed share for the bookkeeping around them.
  static std::size_t held_bytes_of(const source_item& item) noexcept {
    return item.op.body.size() + item.raw_line.size() + item.op.job_id.size() + 256;
  }

private:
  void read();
  void give_back(std::vector<source_item>&& batch);
  std::vector<source_item> take_spare();
  // Under mutex_: the window has drained to its low-water mark (half of it, in lines and
  // in bytes), so the waiting reader refills it.
  bool drained() const noexcept {
    return outstanding_ <= window_ / 2 &&
           (outstanding_ == 0 || outstanding_bytes_ <= window_bytes_ / 2);
  }

  boost::asio::io_context& io_;
  line_source& source_;
  const std::size_t window_, window_bytes_;
  std::function<void(std::span<source_item>)> accept_;
  std::function<void()> on_end_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable room_;
  // Under mutex_: lines handed over and not yet final, and their held_bytes_of().
  std::size_t outstanding_ = 0;
  std::size_t outstanding_bytes_ = 0;
  bool waiting_ = false; // for room: notified only once the window has drained
  bool stop_ = false;
  std::vector<std::vector<source_item>> spare_batches_;
  std::atomic<bool> cancel_{false}; // unblocks a reader waiting on a pipe
  bool done_ = false;               // io thread's view
  std::string error_;               // reader thread's, read after join()
};

} // namespace jobpatch::net
