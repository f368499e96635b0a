#include <jobpatch/results/results_merge.hpp>

#include "text/json_checks.hpp"

#include <jobpatch/manifest/manifest_reader.hpp>
#include <jobpatch/results/file_writer.hpp>
#include <jobpatch/results/result_record.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobpatch {

namespace ondemand = detail::ondemand;

namespace {

static_assert(sizeof(results_merge::entry) == 24);

// Read this much at a time; the longest record accepted is max_record_bytes
// (result_record.hpp), which the writer keeps.
constexpr std::size_t chunk_bytes = 1 << 20;

// Splits a file on '\n' in bounded memory and says where each line starts, which
// manifest_reader (built for manifests) does not.
class offset_line_reader {
public:
  struct line {
    std::uint64_t number = 0; // 1-based physical line
    std::uint64_t offset = 0;
    std::string_view text;     // without '\n'; valid until the next call
    std::size_t readable = 0;  // bytes readable from text.data() (padding included)
    bool ended = true;         // false: the last line, without a line end
    std::size_t oversized = 0; // non-zero: the line's length, over max_record_bytes; no text
  };

  explicit offset_line_reader(int fd)
      : fd_(fd), capacity_(max_record_bytes + chunk_bytes),
        buffer_(new char[capacity_ + manifest_padding_bytes]) {
    std::memset(buffer_.get() + capacity_, 0, manifest_padding_bytes);
  }

  bool next(line& out) {
    std::size_t skipped = 0; // bytes of an oversized line dropped so far
    for (;;) {
      const char* begin = buffer_.get() + begin_;
      auto* newline =
          static_cast<const char*>(std::memchr(begin + scanned_, '\n', end_ - begin_ - scanned_));
      if (newline) {
        std::size_t length = static_cast<std::size_t>(newline - begin);
        out.number = ++number_;
        out.ended = true;
        out.oversized = skipped ? skipped + length : 0;
        out.offset = base_ + begin_ - skipped;
        out.text = skipped ? std::string_view() : std::string_view(begin, length);
        out.readable = capacity_ + manifest_padding_bytes - begin_;
        begin_ += length + 1;
        scanned_ = 0;
        return true;
      }
      scanned_ = end_ - begin_;
      if (end_ - begin_ > max_record_bytes) { // drop what is held of an oversized line
        skipped += end_ - begin_;
        base_ += end_;
        begin_ = end_ = scanned_ = 0;
      }
      if (eof_) {
        if (begin_ == end_ && !skipped) return false;
        out.number = ++number_;
        out.ended = false;
        out.oversized = skipped ? skipped + (end_ - begin_) : 0;
        out.offset = base_ + begin_ - skipped;
        out.text = skipped ? std::string_view() : std::string_view(begin, end_ - begin_);
        out.readable = capacity_ + manifest_padding_bytes - begin_;
        begin_ = end_;
        scanned_ = 0;
        return true;
      }
      fill();
    }
  }

private:
  void fill() {
    if (begin_ > 0) { // keep the partial line at the start
      std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
      base_ += begin_;
      end_ -= begin_;
      begin_ = 0;
    }
    for (;;) {
      ssize_t n = ::read(fd_, buffer_.get() + end_, capacity_ - end_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::system_error(errno, std::generic_category());
      if (n == 0) eof_ = true;
      end_ += static_cast<std::size_t>(n);
      return;
    }
  }

  int fd_;
  std::size_t capacity_;
  std::unique_ptr<char[]> buffer_;
  std::size_t begin_ = 0, end_ = 0, scanned_ = 0;
  std::uint64_t base_ = 0; // file offset of buffer_[0]
  std::uint64_t number_ = 0;
  bool eof_ = false;
};

// What a record says that the merge needs; nullopt-like `ok` false for anything else.
struct record_key {
  bool ok = false;
  std::uint64_t line = 0;
  bool has_job = false;
  outcome result = outcome::ok;
  std::string_view why; // when not ok: what is wrong
};

record_key read_record(ondemand::parser& parser, std::string_view text, std::size_t readable) {
  record_key r;
  ondemand::document doc;
  ondemand::object object;
  if (parser.iterate(text.data(), text.size(), readable).get(doc) || doc.get_object().get(object)) {
    r.why = "not a JSON object";
    return r;
  }
  bool have_line = false, have_outcome = false;
  for (auto field_result : object) {
    ondemand::field field;
    std::string_view key, s;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) {
      r.why = "not valid JSON";
      return r;
    }
    if (key == "line") {
      if (field.value().get_uint64().get(r.line) || r.line == 0) {
        r.why = "\"line\" is not a line number";
        return r;
      }
      have_line = true;
    } else if (key == "outcome") {
      auto parsed = field.value().get_string().get(s) ? std::nullopt : parse_outcome(s);
      if (!parsed) {
        r.why = "\"outcome\" is not ok, failed, invalid or skipped";
        return r;
      }
      r.result = *parsed;
      have_outcome = true;
    } else if (key == "jobId") {
      if (field.value().get_string().get(s)) {
        r.why = "\"jobId\" is not a string";
        return r;
      }
      r.has_job = !s.empty();
    }
  }
  if (!detail::at_document_end(doc)) {
    r.why = "not valid JSON (or text after the record)";
    return r;
  }
  if (!have_line || !have_outcome) {
    r.why = "no \"line\" or no \"outcome\": not a jobpatch result record";
    return r;
  }
  r.ok = true;
  return r;
}

bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r") == std::string_view::npos;
}

} // namespace

results_merge::results_merge() = default;

results_merge::~results_merge() {
  for (auto& f : files_)
    if (f.fd >= 0) ::close(f.fd);
}

void results_merge::problem(std::string message) {
  if (problems_.size() < max_problems_shown) problems_.push_back(std::move(message));
  ++problem_count_;
}

void results_merge::add_file(const std::string& path) {
  if (files_.size() > UINT16_MAX) throw std::invalid_argument("too many results files to merge");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + path);
  files_.push_back({path, fd});
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot stat " + path);
  if (!S_ISREG(st.st_mode)) {
    problem(path + ": not a regular file (a results file is read twice: save it to a file first)");
    return;
  }
  auto file = static_cast<std::uint16_t>(files_.size() - 1);
  offset_line_reader reader(fd);
  ondemand::parser parser;
  offset_line_reader::line text;
  try {
    while (reader.next(text)) {
      if (text.oversized) {
        problem(path + ":" + std::to_string(text.number) + ": a line of " +
                std::to_string(text.oversized) + " bytes is not a jobpatch result record");
        continue;
      }
      if (blank(text.text)) continue;
      std::string_view record = text.text;
      if (record.back() == '\r') record.remove_suffix(1);
      record_key key = read_record(parser, record, text.readable);
      if (!key.ok) {
        if (!text.ended) { // a run killed mid-write: that line is simply not recorded
          notes_.push_back(path + ":" + std::to_string(text.number) + ": left out a torn last " +
                           "record (" + std::to_string(text.text.size()) +
                           " bytes without a line end)");
          continue;
        }
        problem(path + ":" + std::to_string(text.number) + ": " + std::string(key.why));
        continue;
      }
      ++records_read_;
      entries_.push_back({key.line, text.offset, static_cast<std::uint32_t>(record.size()), file,
                          key.result == outcome::invalid && !key.has_job});
    }
  } catch (const std::system_error& e) {
    throw std::system_error(e.code(), "cannot read " + path);
  }
}

void results_merge::finish() {
  // By line, then file, then place in the file: each line's records in the order written.
  std::sort(entries_.begin(), entries_.end(), [](const entry& a, const entry& b) {
    if (a.line != b.line) return a.line < b.line;
    if (a.file != b.file) return a.file < b.file;
    return a.offset < b.offset;
  });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < entries_.size();) {
    std::size_t j = i;
    while (j < entries_.size() && entries_[j].line == entries_[i].line) ++j;
    // [i, j): one line's records. The last of the first file wins; other files may only
    // hold the same line when every shard records it.
    std::size_t last_of_first = i;
    while (last_of_first + 1 < j && entries_[last_of_first + 1].file == entries_[i].file)
      ++last_of_first;
    superseded_ += last_of_first - i;
    const entry& winner = entries_[last_of_first];
    if (last_of_first + 1 < j) {
      bool shared = true;
      std::size_t other = last_of_first + 1;
      for (std::size_t k = i; k < j; ++k) shared = shared && entries_[k].in_every_shard;
      if (shared) {
        ++in_every_shard_;
      } else {
        // Name both files: the winner's and the next one holding the line.
        std::string message = "line " + std::to_string(winner.line) + " is recorded in ";
        message += files_[winner.file].path;
        message += " and in ";
        message += files_[entries_[other].file].path;
        message += ": the shards overlapped (were they run with one --shard N over one manifest?)";
        problem(std::move(message));
      }
    }
    entries_[kept++] = winner;
    i = j;
  }
  entries_.resize(kept);
  entries_.shrink_to_fit();
  winners_ = kept;
  finished_ = true;
}

void results_merge::write(file_writer& out) {
  if (!finished_) finish();
  std::string record;
  for (const entry& e : entries_) {
    const source& f = files_[e.file];
    record.resize(e.length);
    std::size_t done = 0;
    while (done < e.length) {
      ssize_t n =
          ::pread(f.fd, record.data() + done, e.length - done, static_cast<off_t>(e.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw std::system_error(n < 0 ? errno : EIO, std::generic_category(),
                                "cannot read " + f.path + " again (did it change?)");
      done += static_cast<std::size_t>(n);
    }
    std::string& buffer = out.buffer();
    buffer += record;
    buffer += '\n';
    out.commit();
  }
}

} // namespace jobpatch
