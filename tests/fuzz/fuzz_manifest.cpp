// Fuzz entries for the manifest: one line through line_validator, and whole manifests
// through manifest_reader + line_source.

#include "fuzz_entries.hpp"

#include <jobpatch/manifest/body_validator.hpp>
#include <jobpatch/manifest/line_source.hpp>
#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/manifest/manifest_reader.hpp>

#include <cstring>
#include <memory>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace jobpatch::fuzz {

namespace {

bool has_c0_or_del(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return true;
  return false;
}

// Invariants of a line the validator accepted.
void check_valid(const operation& op, std::uint64_t line_number, body_validator& bodies) {
  require(!op.job_id.empty(), "accepted an empty jobId");
  require(op.job_id.size() <= line_validator::max_job_id_bytes, "accepted an oversized jobId");
  require(!has_c0_or_del(op.job_id), "accepted a jobId with control characters");
  require(op.line == line_number, "wrong line number");
  require(op.fingerprint == 0, "the validator keyed an update line_source has not numbered");
  require(bodies.validate(op.op, op.body), "accepted a body the body validator refuses");
}

// A memfd holding `bytes`, positioned at the start; -1 when memfd is unavailable.
int memfd_of(std::string_view bytes) {
  int fd = ::memfd_create("jobpatch-fuzz", MFD_CLOEXEC);
  if (fd < 0) return -1;
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    done += static_cast<std::size_t>(n);
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

} // namespace

int line_validator_entry(const std::uint8_t* data, std::size_t size) {
  static line_validator validator;
  static body_validator bodies;
  std::string_view line(reinterpret_cast<const char*>(data), size);

  // 1. Exactly the bytes, nothing readable beyond: the validator must copy (ASan checks).
  auto exact = std::make_unique<char[]>(size + 1);
  std::memcpy(exact.get(), data, size);
  operation first;
  bool ok_exact = validator.validate(std::string_view(exact.get(), size), size, 7, first);
  std::string first_error = ok_exact ? std::string() : validator.error().message;
  if (ok_exact)
    check_valid(first, 7, bodies);
  else
    require(!first_error.empty(), "rejected a line without a message");

  // 2. With simdjson's padding readable in place: same verdict, same result.
  auto padded = std::make_unique<char[]>(size + 64);
  std::memcpy(padded.get(), data, size);
  std::memset(padded.get() + size, ' ', 64);
  operation second;
  bool ok_padded = validator.validate(std::string_view(padded.get(), size), size + 64, 7, second);
  require(ok_exact == ok_padded, "verdict depends on the readable size");
  if (ok_padded) {
    require(first.job_id == second.job_id && first.op == second.op && first.body == second.body,
            "result depends on the readable size");
  } else {
    require(validator.error().message == first_error, "message depends on the readable size");
  }
  (void)line;
  return 0;
}

int manifest_reader_entry(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // First byte: the line limit (8 B .. 1 KiB) and the shard split of line_source.
  std::size_t max_line = std::size_t{8} << (data[0] & 7);
  std::uint32_t shards = 1 + ((data[0] >> 3) & 3);
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  int fd = memfd_of(bytes);
  if (fd < 0) return 0;
  static line_validator validator;
  static body_validator bodies;
  std::uint64_t lines = 0, last_number = 0;
  {
    manifest_reader reader(fd, true, max_line);
    manifest_line line;
    while (reader.next(line)) {
      ++lines;
      require(line.number > last_number, "line numbers must increase");
      last_number = line.number;
      if (line.oversized) {
        require(line.oversized > max_line && line.text.empty(), "bad oversized line");
        continue;
      }
      require(line.text.size() <= max_line, "line over the limit returned");
      require(line.text.find('\n') == std::string_view::npos, "line holds a newline");
      require(line.readable >= line.text.size() + 64, "too little padding");
      require(!line.text.empty(), "blank line returned");
      operation op;
      if (validator.validate(line.text, line.readable, line.number, op))
        check_valid(op, line.number, bodies);
    }
    require(reader.bytes_read() == bytes.size(), "not every byte was read");
  }

  // The same bytes through line_source, split into shards: every line lands in exactly
  // one shard, except bad lines without a known job, which every shard reports.
  std::uint64_t seen_valid = 0, seen_invalid_total = 0;
  for (std::uint32_t shard = 0; shard < shards; ++shard) {
    int shard_fd = memfd_of(bytes);
    if (shard_fd < 0) return 0;
    line_source::options o;
    o.max_line_bytes = max_line;
    o.shard_index = shard;
    o.shard_count = shards;
    o.keep_raw_lines = true;
    line_source source(manifest_reader(shard_fd, true, max_line), o);
    source_item item;
    while (source.next(item)) {
      if (item.valid) {
        ++seen_valid;
        require(line_source::shard_of(item.op.job_id, shards) == shard, "line in the wrong shard");
        require(item.raw_line.size() <= max_line, "raw line over the limit");
      } else {
        ++seen_invalid_total;
        require(!item.error.message.empty(), "invalid line without a message");
      }
    }
    require(source.lines_read() == lines, "line_source and manifest_reader disagree");
  }
  require(seen_valid <= lines, "more valid lines than lines");
  return 0;
}

} // namespace jobpatch::fuzz
