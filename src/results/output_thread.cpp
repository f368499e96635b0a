#include <jobpatch/results/output_thread.hpp>

#include <algorithm>
#include <csignal>
#include <exception>
#include <stdexcept>
#include <system_error>

#include <pthread.h>

namespace jobpatch {

output_thread::output_thread() {
  auto err = std::make_unique<file>();
  err->writer = file_writer::standard_error();
  err->k = kind::other;
  order_.push_back(err.get());
  files_.push_back(std::move(err));
  thread_ = std::thread([this] {
    // Signals are for the io thread (its signal_set): none interrupts a write here.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    run();
  });
}

output_thread::~output_thread() {
  try {
    close();
  } catch (...) {
    // Destructors must not throw; close() reports nothing by exception anyway.
  }
}

output_thread::file_id output_thread::add(file_writer writer, kind k, bool sync,
                                          std::optional<file_id> before) {
  std::unique_lock lock(mutex_);
  if (closed_) throw std::logic_error("output_thread::add after close");
  idle_cv_.wait(lock, [&] { return !busy_; }); // the writer reads order_ only while busy
  auto f = std::make_unique<file>();
  f->writer = std::move(writer);
  f->k = k;
  f->sync = sync;
  auto at =
      before ? std::find(order_.begin(), order_.end(), files_.at(*before).get()) : order_.end();
  order_.insert(at, f.get());
  files_.push_back(std::move(f));
  return files_.size() - 1;
}

output_thread::file_id output_thread::add_whole(std::string path, whole_writer write, kind k) {
  std::unique_lock lock(mutex_);
  if (closed_) throw std::logic_error("output_thread::add_whole after close");
  idle_cv_.wait(lock, [&] { return !busy_; });
  auto f = std::make_unique<file>();
  f->path = std::move(path);
  f->write_whole = write;
  f->k = k;
  order_.push_back(f.get());
  files_.push_back(std::move(f));
  return files_.size() - 1;
}

void output_thread::swap_fronts() {
  // Swapped, not copied: the writer's emptied buffers (their capacity kept) come back.
  for (auto& f : files_) {
    std::swap(f->front, f->write_whole ? f->back : f->writer.buffer());
    std::swap(f->front_latest, f->back_latest);
  }
}

std::optional<std::uint64_t> output_thread::hand_over(bool durable) {
  bool anything = std::any_of(files_.begin(), files_.end(), [](const auto& f) {
    return !f->front.empty() || !f->front_latest.empty();
  });
  // handed_ changes on this thread only: read without the lock.
  if (!anything && !(durable && unsynced_handed_)) return handed_;
  std::uint64_t batch;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return handed_;
    if (busy_) return std::nullopt;
    swap_fronts();
    durable_ = durable;
    busy_ = true;
    batch = ++handed_;
  }
  work_cv_.notify_one();
  unsynced_handed_ = !durable;
  return batch;
}

void output_thread::drain(bool durable) {
  std::unique_lock lock(mutex_);
  if (closed_) return;
  idle_cv_.wait(lock, [&] { return !busy_; });
  swap_fronts();
  durable_ = durable;
  busy_ = true;
  ++handed_;
  work_cv_.notify_one();
  idle_cv_.wait(lock, [&] { return !busy_; });
  unsynced_handed_ = !durable;
}

void output_thread::close() {
  if (closed_) return;
  drain(true);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    closed_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

void output_thread::on_written(std::function<void(const output_progress&)> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

output_progress output_thread::progress() const {
  std::lock_guard lock(mutex_);
  return progress_;
}

std::string output_thread::error_of(file_id id) const {
  std::lock_guard lock(mutex_);
  return files_.at(id)->error;
}

void output_thread::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [&] { return busy_ || stopping_; });
    if (!busy_) break; // stopping, everything written
    bool durable = durable_;
    bool records_failed = !progress_.error.empty();
    std::uint64_t batch = handed_;
    lock.unlock();
    output_progress result;
    write_batch(durable, records_failed, result);
    lock.lock();
    if (!result.error.empty() && progress_.error.empty()) {
      progress_.error = std::move(result.error);
      progress_.error_code = result.error_code;
    }
    for (auto* f : order_)
      if (!f->pending_error.empty()) {
        if (f->error.empty()) f->error = std::move(f->pending_error); // the first one
        f->pending_error.clear();
      }
    progress_.written = batch;
    if (durable && progress_.error.empty()) progress_.durable = batch;
    busy_ = false;
    if (listener_) listener_(progress_);
    idle_cv_.notify_all();
  }
  lock.unlock();
  // close(2) too happens here. Buffers are empty: written, or dropped after an error.
  for (auto* f : order_) {
    try {
      f->writer.buffer().clear();
      f->writer.close();
    } catch (...) {}
  }
}

void output_thread::write_batch(bool durable, bool records_failed, output_progress& result) {
  for (auto* f : order_) write_file(*f, durable, records_failed, result);
}

void output_thread::write_file(file& f, bool durable, bool records_failed,
                               output_progress& result) {
  std::string error; // an `other` file's
  if (f.write_whole) {
    if (f.back.empty()) return;
    try {
      f.write_whole(f.path, f.back);
    } catch (const std::exception& e) {
      error = e.what();
    }
    f.back.clear();
  } else {
    std::string& buffer = f.writer.buffer();
    if (!f.back_latest.empty()) {
      buffer += f.back_latest;
      f.back_latest.clear();
    }
    if (f.k == kind::records && (records_failed || !result.error.empty())) {
      // After a records error nothing more is written to them: what reached them stays
      // whole (and an undo line's failure keeps its record out of the results).
      buffer.clear();
      return;
    }
    if (!f.writer.is_open()) {
      buffer.clear();
      return;
    }
    bool wrote = !buffer.empty();
    try {
      f.writer.flush();
      if (wrote) f.unsynced = true;
      if (durable && f.sync && f.unsynced) {
        f.writer.sync();
        f.unsynced = false;
      }
    } catch (const std::system_error& e) {
      buffer.clear(); // never written again (file_writer kept the file whole)
      if (f.k == kind::records) {
        result.error = e.what();
        result.error_code = e.code().value();
        return;
      }
      error = e.what();
    }
  }
  if (!error.empty()) f.pending_error = std::move(error);
}

} // namespace jobpatch
