#include <jobpatch/results/file_writer.hpp>

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace jobpatch {
namespace {
constexpr std::size_t flush_threshold = std::size_t{64} * 1024;
}

file_writer::file_writer(const std::string& path, mode m) {
  if (path == "-") {
    fd_ = STDOUT_FILENO;
    return;
  }
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (m == mode::append ? O_APPEND : O_TRUNC);
  fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  owns_fd_ = true;
  buffer_.reserve(flush_threshold + 4096);
}

file_writer::~file_writer() {
  try {
    close();
  } catch (...) {
    // Destructors must not throw; callers that care call close() themselves.
  }
}

file_writer::file_writer(file_writer&& other) noexcept
    : fd_(other.fd_), owns_fd_(other.owns_fd_), buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
  other.owns_fd_ = false;
}

file_writer& file_writer::operator=(file_writer&& other) noexcept {
  if (this != &other) {
    try {
      close();
    } catch (...) {}
    fd_ = other.fd_;
    owns_fd_ = other.owns_fd_;
    buffer_ = std::move(other.buffer_);
    other.fd_ = -1;
    other.owns_fd_ = false;
  }
  return *this;
}

void file_writer::write(std::string_view text) {
  buffer_ += text;
  commit();
}

void file_writer::commit() {
  if (buffer_.size() >= flush_threshold) flush();
}

void file_writer::flush() {
  std::size_t done = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "write failed");
    done += static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

void file_writer::sync() {
  flush();
  if (owns_fd_ && ::fdatasync(fd_) != 0 && errno != EINVAL)
    throw std::system_error(errno, std::generic_category(), "fdatasync failed");
}

void file_writer::close() {
  if (fd_ < 0) return;
  flush();
  if (owns_fd_) ::close(fd_);
  fd_ = -1;
  owns_fd_ = false;
}

} // namespace jobpatch
