#include <jobpatch/manifest/manifest_reader.hpp>

#include <jobpatch/manifest/line_validator.hpp>

#include <boost/unordered/unordered_flat_set.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobpatch {
namespace {
constexpr std::size_t chunk_bytes = std::size_t{256} * 1024;
constexpr std::size_t padding_bytes = manifest_padding_bytes;

bool is_blank(std::string_view s) noexcept {
  for (char c : s)
    if (c != ' ' && c != '\t') return false;
  return true;
}
} // namespace

// Every id an --ids input named so far, exactly: a hash alone could take two jobs for one
// and skip the second. Their bytes are kept in blocks that never move (about the size of
// the list), viewed from a flat set (about 20 bytes more per id). An id longer than a job
// id may be is not kept: the validator refuses each line that names it.
struct manifest_reader::id_set {
  static constexpr std::size_t block_bytes = std::size_t{64} << 10;
  static_assert(line_validator::max_job_id_bytes <= block_bytes);
  std::vector<std::unique_ptr<char[]>> blocks;
  std::size_t used = block_bytes; // of the last block
  boost::unordered_flat_set<std::string_view> ids;

  // True when `id` was named before; otherwise it is remembered.
  bool seen(std::string_view id) {
    if (id.size() > line_validator::max_job_id_bytes) return false;
    if (ids.contains(id)) return true;
    if (used + id.size() > block_bytes) {
      blocks.push_back(std::make_unique<char[]>(block_bytes));
      used = 0;
    }
    char* at = blocks.back().get() + used;
    used += id.size();
    std::copy(id.begin(), id.end(), at);
    ids.insert(std::string_view(at, id.size()));
    return false;
  }
};

manifest_reader::manifest_reader(int fd, bool owns_fd, std::size_t max_line_bytes)
    : fd_(fd), owns_fd_(owns_fd), max_line_(max_line_bytes),
      buffer_(new char[max_line_bytes + chunk_bytes + padding_bytes]),
      capacity_(max_line_bytes + chunk_bytes) {
  std::memset(buffer_.get() + capacity_, ' ', padding_bytes);
}

manifest_reader manifest_reader::open(const std::string& path, std::size_t max_line_bytes) {
  if (path == "-") return manifest_reader(STDIN_FILENO, false, max_line_bytes);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  manifest_reader reader(fd, true, max_line_bytes);
  // read() would say "Is a directory" on the first line, without the name.
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
    throw std::invalid_argument("the manifest " + path + " is a directory; name an NDJSON file");
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return reader;
}

manifest_reader::~manifest_reader() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

manifest_reader::manifest_reader(manifest_reader&& other) noexcept
    : fd_(other.fd_), owns_fd_(other.owns_fd_), max_line_(other.max_line_),
      buffer_(std::move(other.buffer_)), capacity_(other.capacity_), begin_(other.begin_),
      end_(other.end_), scanned_(other.scanned_), line_number_(other.line_number_),
      bytes_read_(other.bytes_read_), eof_(other.eof_), cancel_(other.cancel_),
      at_start_(other.at_start_), ids_(std::move(other.ids_)),
      ids_line_(std::move(other.ids_line_)), seen_ids_(std::move(other.seen_ids_)),
      duplicate_ids_(other.duplicate_ids_), first_duplicate_line_(other.first_duplicate_line_),
      duplicates_told_(other.duplicates_told_), head_(other.head_), head_size_(other.head_size_) {
  other.fd_ = -1;
}

void manifest_reader::use_ids_template(ids_template t) {
  ids_ = std::make_unique<ids_template>(std::move(t));
  seen_ids_ = std::make_unique<id_set>();
}

void manifest_reader::end_of_input() {
  if (duplicates_told_ || duplicate_ids_ == 0 || !ids_ || !ids_->on_duplicates) return;
  duplicates_told_ = true;
  ids_->on_duplicates(duplicate_ids_, first_duplicate_line_);
}

bool manifest_reader::fill() {
  if (eof_) return false;
  if (begin_ > 0) { // keep the partial line, move it to the front
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  while (true) {
    if (cancel_ && !wait_readable()) {
      eof_ = true;
      return false;
    }
    ssize_t n = ::read(fd_, buffer_.get() + end_, capacity_ - end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "cannot read manifest");
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (head_size_ < head_.size()) {
      std::size_t take = std::min(head_.size() - head_size_, static_cast<std::size_t>(n));
      std::copy_n(buffer_.get() + end_, take, head_.data() + head_size_);
      head_size_ += take;
    }
    end_ += static_cast<std::size_t>(n);
    bytes_read_ += static_cast<std::uint64_t>(n);
    if (at_start_ && end_ < 3) continue; // need three bytes to recognise a BOM
    if (at_start_) {
      at_start_ = false;
      if (std::memcmp(buffer_.get(), "\xEF\xBB\xBF", 3) == 0) begin_ = 3;
    }
    return true;
  }
}

bool manifest_reader::has_buffered_line() const noexcept {
  return std::memchr(buffer_.get() + begin_, '\n', end_ - begin_) != nullptr;
}

// Waits until the descriptor has input, checking the cancel flag every 100 ms.
bool manifest_reader::wait_readable() const {
  while (!cancel_->load(std::memory_order_relaxed)) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r > 0 || (r < 0 && errno != EINTR)) return true; // read() reports errors itself
  }
  return false;
}

bool manifest_reader::next(manifest_line& out) {
  std::size_t skipped = 0; // bytes of an oversized line already discarded
  while (true) {
    const char* base = buffer_.get();
    const char* nl = static_cast<const char*>(
        std::memchr(base + begin_ + scanned_, '\n', end_ - begin_ - scanned_));
    std::size_t line_end;
    if (nl) {
      line_end = static_cast<std::size_t>(nl - base);
    } else if (eof_) {
      if (begin_ == end_ && skipped == 0) {
        end_of_input();
        return false;
      }
      line_end = end_; // last line without a newline
    } else if (end_ - begin_ + skipped > max_line_) {
      // Longer than the limit: drop what we have and read on to the line's end.
      skipped += end_ - begin_;
      begin_ = end_ = scanned_ = 0;
      fill();
      continue;
    } else {
      scanned_ = end_ - begin_;
      fill();
      continue;
    }

    std::size_t start = begin_;
    begin_ = line_end < end_ ? line_end + 1 : end_;
    scanned_ = 0;
    ++line_number_;
    out.number = line_number_;
    if (std::size_t length = line_end - start + skipped; length > max_line_) {
      out.text = {};
      out.readable = 0;
      out.oversized = length;
      return true;
    }
    std::string_view text(base + start, line_end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (is_blank(text)) continue;
    if (ids_) {
      if (!make_ids_line(text)) continue;
      // The made line is followed by padding spaces of its own (see make_ids_line).
      out.text = std::string_view(ids_line_.data(), ids_line_.size() - padding_bytes);
      out.readable = ids_line_.size();
      out.oversized = 0;
      return true;
    }
    out.text = text;
    out.readable = capacity_ + padding_bytes - start;
    out.oversized = 0;
    return true;
  }
}

bool manifest_reader::make_ids_line(std::string_view id) {
  while (!id.empty() && (id.front() == ' ' || id.front() == '\t')) id.remove_prefix(1);
  while (!id.empty() && (id.back() == ' ' || id.back() == '\t')) id.remove_suffix(1);
  if (id.empty() || id.front() == '#') return false;
  if (seen_ids_->seen(id)) {
    if (duplicate_ids_++ == 0) first_duplicate_line_ = line_number_;
    return false;
  }
  ids_line_.clear();
  ids_line_.reserve(id.size() * 6 + ids_->op.size() + ids_->body.size() + 64 + padding_bytes);
  ids_line_ += "{\"jobId\":\"";
  for (unsigned char c : id) {
    if (c == '"' || c == '\\') {
      ids_line_ += '\\';
      ids_line_ += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      // Escaped, not dropped: the validator then refuses the id with this line's number.
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      ids_line_ += escaped;
    } else {
      ids_line_ += static_cast<char>(c); // invalid UTF-8 is kept for the validator to see
    }
  }
  ids_line_ += "\",\"op\":\"";
  ids_line_ += ids_->op;
  ids_line_ += "\",\"body\":";
  ids_line_ += ids_->body;
  ids_line_ += '}';
  ids_line_.append(padding_bytes, ' '); // the parser may read this far; never past it
  return true;
}

std::string ids_body_line(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '\n' || c == '\r') {
      c = ' ';
    }
    out += c;
  }
  auto first = out.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  out.erase(0, first);
  out.erase(out.find_last_not_of(" \t") + 1);
  return out;
}

} // namespace jobpatch
