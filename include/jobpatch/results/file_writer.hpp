#pragma once
// Buffered writer of whole records to a file descriptor (results, failed lines, journals),
// and a whole file replaced at once (a summary, a report, the metrics, merged results).

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
  // flush() and fsync(2): the file's metadata too (before a rename makes it visible).
  void sync_all();
  void close();

private:
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string buffer_;
  std::string path_;

  std::string describe() const;
};

// A file replaced whole: written to "<path>.tmp.<pid>" beside it (beside the file a
// symlink names), fsync'ed, renamed over it, and the directory fsync'ed, so a reader sees
// the old file or the new one, never a part, and a crash never leaves it empty. The new
// file keeps an existing one's permission bits. What cannot be renamed over is written
// in place: "-" (standard output), and an existing path that is not a regular file (a
// FIFO, /dev/stdout, a terminal, /dev/full) or a symlink to nothing yet.
class replacing_file {
public:
  // Throws std::system_error (nothing is left behind).
  explicit replacing_file(const std::string& path);
  // Unless committed: the temporary file is removed and `path` is as it was.
  ~replacing_file();
  replacing_file(const replacing_file&) = delete;
  replacing_file& operator=(const replacing_file&) = delete;

  // Where the content goes.
  file_writer& out() noexcept { return out_; }
  // Makes the content the file's. Throws std::system_error; the temporary file is then
  // removed and `path` is as it was.
  void commit();

private:
  std::string path_; // what is replaced (a symlink's target)
  std::string temp_; // empty: written in place, or committed
  file_writer out_;
};

// replacing_file with `content`. Throws std::system_error (nothing is left behind).
void write_file_atomically(const std::string& path, std::string_view content);

} // namespace jobpatch
