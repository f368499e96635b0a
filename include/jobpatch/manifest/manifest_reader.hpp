#pragma once
// Streams an NDJSON manifest line by line in bounded memory.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace jobpatch {

// Readable bytes left after every line's text: simdjson's SIMDJSON_PADDING, so lines are
// parsed in place (a static_assert next to the parsing code keeps the two equal; this
// header stays free of simdjson.h).
inline constexpr std::size_t manifest_padding_bytes = 64;

// One physical line of the manifest, without its line end ("\n" or "\r\n").
struct manifest_line {
  std::uint64_t number = 0;  // 1-based physical line number (blank lines count)
  std::string_view text;     // valid until the next call to next()
  std::size_t readable = 0;  // bytes readable from text.data() (>= text.size() + 64)
  std::size_t oversized = 0; // when non-zero the line was this many bytes, over the
                             // limit; text is empty and the line must be rejected
};

// `--ids`: an input of job ids, one per line, read as the manifest whose lines are
// {"jobId":<id>,"op":<op>,"body":<body>}. Surrounding spaces and tabs of an id are trimmed;
// lines that are then empty or start with '#' are skipped like blank lines (line numbers
// still count them). The id is JSON-escaped (quote, backslash, control characters) and
// otherwise kept byte for byte, so the validator judges it as it would a manifest's.
// An id read before (the same bytes once trimmed) is skipped too: each job gets the
// update once, and `on_duplicates` hears how many were skipped.
struct ids_template {
  std::string op;   // as typed; the validator checks it
  std::string body; // one JSON value, on one line (see ids_body_line)
  // Called by each reader once, at the end of its input, when it skipped ids read before:
  // how many lines it skipped, and the number of the first.
  std::function<void(std::uint64_t duplicates, std::uint64_t first_line)> on_duplicates = {};
};

// `body` (one JSON value, possibly spread over lines) on one line: line ends outside
// strings become spaces, surrounding whitespace goes. A line end inside a string is left
// (it is invalid JSON, which the validator reports).
std::string ids_body_line(std::string_view body);

// Reads a file descriptor in large chunks and splits it on '\n' itself. Blank lines
// (only spaces/tabs) are skipped, a UTF-8 BOM at the start is dropped, a final line
// without newline is returned. Memory is fixed: chunk size + max line size + padding;
// longer lines are skipped to their end and reported as oversized.
class manifest_reader {
public:
  static constexpr std::size_t default_max_line_bytes = 1 << 20;

  // Takes ownership of `fd` if `owns_fd` (closes it on destruction).
  manifest_reader(int fd, bool owns_fd, std::size_t max_line_bytes = default_max_line_bytes);
  // Opens `path`, or standard input for "-". Throws std::system_error if it cannot, and
  // std::invalid_argument naming a directory.
  static manifest_reader open(const std::string& path,
                              std::size_t max_line_bytes = default_max_line_bytes);
  ~manifest_reader();
  manifest_reader(manifest_reader&&) noexcept;
  manifest_reader& operator=(manifest_reader&&) = delete;

  // Returns false at the end of input. Throws std::system_error on a read error.
  bool next(manifest_line& out);

  // True when a complete line is already buffered, so next() will not block on input.
  bool has_buffered_line() const noexcept;

  // While `*flag` is false reading goes on; once set, a reader waiting for input (a pipe,
  // a terminal) gives up within ~100 ms and the input ends there. Set before next().
  void set_cancel_flag(const std::atomic<bool>* flag) noexcept { cancel_ = flag; }
  // Reading may go on after a cancel (a regular file, to list what was never sent).
  void clear_cancel() noexcept {
    cancel_ = nullptr;
    eof_ = false;
  }

  // Reads the input as a list of job ids (see ids_template) from now on.
  void use_ids_template(ids_template t);

  // The first bytes of the input as read (a BOM included), at most head_bytes: what tells
  // a compressed or binary file from a manifest whose first line is wrong.
  static constexpr std::size_t head_bytes = 512;
  std::string_view head() const noexcept { return {head_.data(), head_size_}; }
  // True when the input is a list of job ids (use_ids_template).
  bool reads_ids() const noexcept { return ids_ != nullptr; }
  // --ids: the lines skipped so far because they named an id read before.
  std::uint64_t duplicate_ids() const noexcept { return duplicate_ids_; }

  std::uint64_t bytes_read() const noexcept { return bytes_read_; }
  std::size_t max_line_bytes() const noexcept { return max_line_; }
  int fd() const noexcept { return fd_; }

private:
  bool fill(); // reads more input after end_; false at end of input
  bool wait_readable() const;
  // --ids: `id_line` (one line of the ids input) as a manifest line in ids_line_; false
  // when the line is a comment or blank, or its id was read before.
  bool make_ids_line(std::string_view id_line);
  void end_of_input(); // tells ids_->on_duplicates, once

  int fd_;
  bool owns_fd_;
  std::size_t max_line_;
  std::unique_ptr<char[]> buffer_;
  std::size_t capacity_;    // usable bytes of buffer_ (padding follows)
  std::size_t begin_ = 0;   // first unconsumed byte
  std::size_t end_ = 0;     // one past the last byte read
  std::size_t scanned_ = 0; // bytes from begin_ already known to hold no '\n'
  std::uint64_t line_number_ = 0;
  std::uint64_t bytes_read_ = 0;
  bool eof_ = false;
  const std::atomic<bool>* cancel_ = nullptr;
  bool at_start_ = true;
  std::unique_ptr<ids_template> ids_; // --ids, or null
  std::string ids_line_;              // the manifest line made of the current id
  struct id_set;                      // --ids: every id read so far
  std::unique_ptr<id_set> seen_ids_;
  std::uint64_t duplicate_ids_ = 0, first_duplicate_line_ = 0;
  bool duplicates_told_ = false;
  std::array<char, head_bytes> head_{};
  std::size_t head_size_ = 0;
};

} // namespace jobpatch
