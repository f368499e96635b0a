#pragma once
// `jobpatch merge`: the results files of the N shards of one run (apply --shard K/N)
// combined into one per-line view: for each manifest line its last record, in line order.
//
// Memory: records are not held. Each record read costs one 24-byte index entry (its line,
// file and byte range); the winners are read again from their files (pread) when written.
// A file of R records therefore needs 24*R bytes of index, plus the sort's scratch.

#include <cstdint>
#include <string>
#include <vector>

namespace jobpatch {

class file_writer;

class results_merge {
public:
  results_merge();
  ~results_merge();
  results_merge(const results_merge&) = delete;
  results_merge& operator=(const results_merge&) = delete;

  // Indexes every record of `path`, a regular file (it is read again by write()). A line
  // that is not a jobpatch record is a problem (file:line); a torn last record (no line
  // end: a run killed mid-write) is a note and left out, as --resume leaves it out.
  // Throws std::system_error when the file cannot be opened or read.
  void add_file(const std::string& path);

  // Picks each line's last record. A line recorded by two files is a problem (the shards
  // overlapped) unless it is an invalid line without a job id, which every shard records:
  // then the first file's record stands.
  void finish();

  // What makes the input unusable (each naming the file and line); when non-empty, write()
  // must not be called. At most `max_problems_shown` are kept; problem_count() counts all.
  static constexpr std::size_t max_problems_shown = 20;
  const std::vector<std::string>& problems() const noexcept { return problems_; }
  std::uint64_t problem_count() const noexcept { return problem_count_; }
  const std::vector<std::string>& notes() const noexcept { return notes_; }

  // Writes the chosen records, each as read plus '\n', in increasing line order. Throws
  // std::system_error when a file cannot be read again or `out` cannot be written.
  void write(file_writer& out);

  std::uint64_t records_read() const noexcept { return records_read_; }
  std::uint64_t lines() const noexcept { return winners_; }
  // Records replaced by a later record of their line in the same file (--resume).
  std::uint64_t superseded() const noexcept { return superseded_; }
  // Lines every shard recorded (invalid, no job id), written once.
  std::uint64_t in_every_shard() const noexcept { return in_every_shard_; }

  // One record read: where it is. 24 bytes.
  struct entry {
    std::uint64_t line = 0;      // its manifest line
    std::uint64_t offset = 0;    // of its first byte in its file
    std::uint32_t length = 0;    // bytes, without the line end
    std::uint16_t file = 0;      // index into files_
    bool in_every_shard = false; // invalid, without a job id
  };

private:
  void problem(std::string message);

  struct source {
    std::string path;
    int fd = -1;
  };
  std::vector<source> files_;
  std::vector<entry> entries_; // every record read; after finish(), the winners in line order
  std::vector<std::string> problems_, notes_;
  std::uint64_t problem_count_ = 0, records_read_ = 0, winners_ = 0, superseded_ = 0,
                in_every_shard_ = 0;
  bool finished_ = false;
};

} // namespace jobpatch
