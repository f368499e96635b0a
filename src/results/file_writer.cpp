#include <jobpatch/results/file_writer.hpp>

#include <cerrno>
#include <climits>
#include <cstdlib>
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

void file_writer::sync_all() {
  flush();
  if (owns_fd_ && ::fsync(fd_) != 0 && errno != EINVAL)
    throw std::system_error(errno, std::generic_category(), "cannot fsync " + describe());
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

replacing_file::replacing_file(const std::string& path) : path_(path) {
  struct stat st {
  }, link{};
  bool in_place = path == "-";
  if (!in_place && ::stat(path.c_str(), &st) == 0) {
    in_place = !S_ISREG(st.st_mode);
    // A symlink stays one: the file it names is replaced, beside itself (rename works
    // within one file system).
    char resolved[PATH_MAX];
    if (!in_place && ::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode) &&
        ::realpath(path.c_str(), resolved))
      path_ = resolved;
  } else if (!in_place) {
    in_place = ::lstat(path.c_str(), &link) == 0; // a symlink to nothing yet: created through it
    st.st_mode = 0;
  }
  if (in_place) {
    out_ = file_writer(path, file_writer::mode::truncate);
    return;
  }
  temp_ = path_ + ".tmp." + std::to_string(::getpid());
  out_ = file_writer(temp_, file_writer::mode::truncate);
  if (st.st_mode != 0) ::chmod(temp_.c_str(), st.st_mode & 07777); // as the file it replaces
}

replacing_file::~replacing_file() {
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void replacing_file::commit() {
  if (temp_.empty()) {
    out_.close();
    return;
  }
  try {
    out_.sync_all();
    out_.close();
    if (::rename(temp_.c_str(), path_.c_str()) != 0)
      throw std::system_error(errno, std::generic_category(),
                              "cannot rename " + temp_ + " to " + path_);
  } catch (...) {
    ::unlink(temp_.c_str());
    temp_.clear();
    throw;
  }
  temp_.clear();
  // The rename made durable; a failure here does not undo a visible, complete file.
  auto slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomically(const std::string& path, std::string_view content) {
  replacing_file file(path);
  file.out().write(content);
  file.commit();
}

} // namespace jobpatch
