#include "net/manifest_feeder.hpp"

#include <boost/asio/post.hpp>

namespace jobpatch::net {
namespace {
constexpr std::size_t reader_batch = 256; // lines handed from the reader per post
}

manifest_feeder::manifest_feeder(boost::asio::io_context& io, line_source& source,
                                 std::size_t window, std::size_t window_bytes,
                                 std::function<void(std::span<source_item>)> accept,
                                 std::function<void()> on_end)
    : io_(io), source_(source), window_(window), window_bytes_(window_bytes),
      accept_(std::move(accept)), on_end_(std::move(on_end)) {}

manifest_feeder::~manifest_feeder() {
  if (thread_.joinable()) {
    stop();
    thread_.join();
  }
}

void manifest_feeder::start() {
  thread_ = std::thread([this] { read(); });
}

void manifest_feeder::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cancel_ = true;
  room_.notify_all();
}

void manifest_feeder::join() {
  if (thread_.joinable()) thread_.join();
}

void manifest_feeder::abandon() {
  stop();
  if (thread_.joinable()) thread_.detach();
}

void manifest_feeder::read() {
  // Lines are read into the batch's items in place: items that come back from the engine
  // keep their strings' capacity.
  std::vector<source_item> batch;
  std::size_t used = 0;
  auto hand_over = [&] {
    if (used == 0) return;
    // The items past `used` (a spare's, after a short batch) travel along unread: their
    // strings stay in circulation.
    boost::asio::post(io_, [this, items = std::move(batch), used]() mutable {
      accept_(std::span(items.data(), used));
      give_back(std::move(items));
    });
    batch = take_spare();
    used = 0;
  };
  try {
    source_.reader().set_cancel_flag(&cancel_);
    while (true) {
      {
        std::unique_lock lock(mutex_);
        // Room in lines and in bytes; one update is always let through, however large.
        bool full =
            outstanding_ >= window_ || (outstanding_ > 0 && outstanding_bytes_ >= window_bytes_);
        if (full && !stop_) {
          lock.unlock();
          hand_over(); // what is batched must flow before we wait for room
          lock.lock();
          // Hysteresis: refill only once the window has drained to half, then in whole
          // batches, instead of waking for every finished line (a context switch each).
          waiting_ = true;
          room_.wait(lock, [&] { return drained() || stop_; });
          waiting_ = false;
        }
        if (stop_) break;
      }
      if (used == batch.size()) batch.emplace_back();
      source_item& item = batch[used];
      if (!source_.next(item)) break;
      {
        std::lock_guard lock(mutex_);
        ++outstanding_;
        outstanding_bytes_ += held_bytes_of(item);
      }
      ++used;
      // Hand over a full batch, or before read() could block on a slow pipe.
      if (used >= reader_batch || !source_.reader().has_buffered_line()) hand_over();
    }
  } catch (const std::exception& e) {
    error_ = e.what();
  }
  hand_over();
  boost::asio::post(io_, [this] {
    done_ = true;
    on_end_();
  });
}

void manifest_feeder::give_back(std::vector<source_item>&& batch) {
  std::lock_guard lock(mutex_);
  // Enough for a refill of half the window (the reader's burst), and a little more.
  if (spare_batches_.size() < window_ / 2 / reader_batch + 2)
    spare_batches_.push_back(std::move(batch));
}

std::vector<source_item> manifest_feeder::take_spare() {
  std::vector<source_item> batch;
  {
    std::lock_guard lock(mutex_);
    if (!spare_batches_.empty()) {
      batch = std::move(spare_batches_.back());
      spare_batches_.pop_back();
    }
  }
  if (batch.empty()) batch.reserve(reader_batch);
  return batch;
}

void manifest_feeder::release(std::size_t lines, std::size_t bytes) {
  bool wake_reader;
  {
    std::lock_guard lock(mutex_);
    outstanding_ -= lines;
    outstanding_bytes_ -= bytes;
    wake_reader = waiting_ && drained();
  }
  if (wake_reader) room_.notify_one();
}

} // namespace jobpatch::net
