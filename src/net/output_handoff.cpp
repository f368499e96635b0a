#include "net/output_handoff.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace jobpatch::net {

output_handoff::output_handoff(boost::asio::io_context& io, output_thread& out,
                               std::chrono::milliseconds fsync_interval, release_fn release,
                               failed_fn failed, durable_fn durable)
    : io_(io), out_(out), fsync_interval_(fsync_interval), release_(std::move(release)),
      failed_(std::move(failed)), durable_(std::move(durable)) {
  handed_.reserve(8);
  // On the writer thread, under its lock: only a post (a few per second, not per line).
  out_.on_written(
      [this](const output_progress& p) { boost::asio::post(io_, [this, p] { on_progress(p); }); });
}

output_handoff::~output_handoff() { out_.on_written({}); }

void output_handoff::hand_over(clock::time_point now) {
  bool durable = syncs() && (now - last_sync_ >= fsync_interval_ || !unsent_ids_.empty());
  std::optional<std::uint64_t> batch = out_.hand_over(durable);
  if (!batch) {
    // The writer is busy: its report hands over what is waiting.
    retry_ = pending_lines_ > 0 || durable || !unsent_ids_.empty();
    return;
  }
  retry_ = false;
  if (durable) last_sync_ = now;
  for (std::uint64_t id : unsent_ids_) syncing_.push_back({*batch, id});
  unsent_ids_.clear();
  if (pending_lines_ == 0) return;
  if (*batch <= written_) {
    // Their records are written already, or went to no file at all (no --results).
    release_(pending_lines_, pending_bytes_);
  } else {
    handed_.push_back({*batch, pending_lines_, pending_bytes_});
  }
  pending_lines_ = pending_bytes_ = 0;
}

void output_handoff::when_durable(std::uint64_t id) {
  unsent_ids_.push_back(id);
  if (!retry_) hand_over(clock::now()); // else the writer is busy: its report hands over
}

void output_handoff::on_progress(const output_progress& p) {
  written_ = std::max(written_, p.written);
  if (p.error.empty()) {
    std::uint64_t on_disk = syncs() ? p.durable : p.written;
    ready_.clear();
    std::size_t done = 0;
    for (; done < syncing_.size() && syncing_[done].batch <= on_disk; ++done)
      ready_.push_back(syncing_[done].id);
    // Taken out first: durable_waiting() no longer counts them when durable_ runs.
    syncing_.erase(syncing_.begin(), syncing_.begin() + static_cast<std::ptrdiff_t>(done));
    for (std::uint64_t id : ready_) durable_(id);
  }
  std::size_t done = 0, lines = 0, bytes = 0;
  while (done < handed_.size() && handed_[done].batch <= p.written) {
    lines += handed_[done].lines;
    bytes += handed_[done].bytes;
    ++done;
  }
  handed_.erase(handed_.begin(), handed_.begin() + static_cast<std::ptrdiff_t>(done));
  if (lines) release_(lines, bytes);
  if (!p.error.empty() && error_.empty()) {
    error_ = p.error;
    error_code_ = p.error_code;
    failed_();
  }
  if (retry_) hand_over(clock::now());
}

void output_handoff::write_out() {
  out_.drain(false);
  output_progress p = out_.progress();
  if (!p.error.empty() && error_.empty()) {
    error_ = p.error;
    error_code_ = p.error_code;
    failed_();
  }
  // Everything recorded is written: the window's share of it is free again.
  std::size_t lines = pending_lines_, bytes = pending_bytes_;
  for (const auto& h : handed_) {
    lines += h.lines;
    bytes += h.bytes;
  }
  handed_.clear();
  pending_lines_ = pending_bytes_ = 0;
  if (lines) release_(lines, bytes);
}

} // namespace jobpatch::net
