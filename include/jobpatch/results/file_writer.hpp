#pragma once
// Buffered writer of whole records to a file descriptor (results, failed lines, journals).

#include <string>
#include <string_view>

namespace jobpatch {

// Collects records in memory and writes them with few write(2) calls. A record is never
// split across two writes unless it exceeds the buffer. Not thread-safe.
class file_writer {
public:
  enum class mode { truncate, append };

  file_writer() = default;
  // Opens `path` for writing ("-" is standard output). Throws std::system_error.
  // `owner_only`: the file is created 0600, and an existing one is made 0600 before
  // anything is written to it (what it will hold may be secret).
  file_writer(const std::string& path, mode m, bool owner_only = false);
  // Standard error, written through like a file (never closed here).
  static file_writer standard_error();
  ~file_writer();
  file_writer(file_writer&& other) noexcept;
  file_writer& operator=(file_writer&& other) noexcept;

  bool is_open() const noexcept { return fd_ >= 0; }
  // Appends text; writes out when the buffer passes its threshold.
  void write(std::string_view text);
  // The buffer to append a record to directly; call commit() afterwards.
  std::string& buffer() noexcept { return buffer_; }
  void commit();
  // Writes out everything buffered. Throws std::system_error (naming the file) on a write
  // error; bytes written before the error are never written again, and a record cut
  // short is cut off a regular file again, so the file holds whole records only.
  void flush();
  // flush() and fdatasync(2).
  void sync();
  void close();

private:
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string buffer_;
  std::string path_;

  std::string describe() const;
};

} // namespace jobpatch
