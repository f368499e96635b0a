#include <jobpatch/results/file_writer.hpp>

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobpatch {
namespace {
constexpr std::size_t flush_threshold = std::size_t{64} * 1024;
}

file_writer::file_writer(const std::string& path, mode m, bool owner_only) : path_(path) {
  if (path == "-") {
    fd_ = STDOUT_FILENO;
    return;
  }
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (m == mode::append ? O_APPEND : O_TRUNC);
  fd_ = ::open(path.c_str(), flags, owner_only ? 0600 : 0644);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  owns_fd_ = true;
  struct stat st {};
  // A regular file only: a FIFO or /dev/stdout named as the output is not ours to chmod.
  if (owner_only && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
      ::fchmod(fd_, 0600) != 0) {
    int e = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::system_error(e, std::generic_category(), "cannot make " + path + " private (0600)");
  }
  buffer_.reserve(flush_threshold + 4096);
}

file_writer file_writer::standard_error() {
  file_writer w;
  w.fd_ = STDERR_FILENO;
  w.path_ = "standard error";
  return w;
}

file_writer::~file_writer() {
  try {
    close();
  } catch (...) {
    // Destructors must not throw; callers that care call close() themselves.
  }
}

file_writer::file_writer(file_writer&& other) noexcept
    : fd_(other.fd_), owns_fd_(other.owns_fd_), buffer_(std::move(other.buffer_)),
      path_(std::move(other.path_)) {
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
    path_ = std::move(other.path_);
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
  // Bytes that reached the file leave the buffer at once, also when a later write of the
  // same flush fails: a second flush() must never write them again (that merged records).
  std::size_t done = 0;
  int error = 0;
  while (done < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (error == 0) {
    buffer_.clear();
    return;
  }
  // A record cut short by the failure is cut off the file again when it can be (a regular
  // file we own), so the file ends with whole records; its text stays buffered whole.
  std::size_t whole = buffer_.rfind('\n', done == 0 ? 0 : done - 1);
  whole = (done == 0 || whole == std::string::npos) ? 0 : whole + 1;
  std::size_t torn = done - whole;
  struct stat st {};
  if (torn > 0 && owns_fd_ && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) &&
      st.st_size >= static_cast<off_t>(torn) &&
      ::ftruncate(fd_, st.st_size - static_cast<off_t>(torn)) == 0)
    done = whole;
  buffer_.erase(0, done);
  throw std::system_error(error, std::generic_category(), "cannot write " + describe());
}

std::string file_writer::describe() const { return path_ == "-" ? "standard output" : path_; }

void file_writer::sync() {
  flush();
  if (owns_fd_ && ::fdatasync(fd_) != 0 && errno != EINVAL)
    throw std::system_error(errno, std::generic_category(), "cannot fdatasync " + describe());
}

void file_writer::close() {
  if (fd_ < 0) return;
  // The descriptor is closed whether or not the last flush succeeds; its error is thrown.
  struct closer {
    file_writer& w;
    ~closer() {
      if (w.owns_fd_) ::close(w.fd_);
      w.fd_ = -1;
      w.owns_fd_ = false;
    }
  } close_anyway{*this};
  flush();
}

} // namespace jobpatch
