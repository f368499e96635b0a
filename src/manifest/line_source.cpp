#include <jobpatch/manifest/line_source.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace jobpatch {

namespace {

// A compressed file's magic number, what it is, and what reads it.
struct magic_number {
  std::string_view bytes, name, reader;
};
constexpr std::array<magic_number, 5> magic_numbers = {{
    {"\x1f\x8b", "gzip-compressed", "zcat"},
    {"\x28\xb5\x2f\xfd", "zstd-compressed", "zstdcat"},
    {std::string_view("\xfd"
                      "7zXZ\0",
                      6),
     "xz-compressed", "xzcat"},
    {"BZh", "bzip2-compressed", "bzcat"},
    {"PK\x03\x04", "like a zip archive", "unzip -p"},
}};

bool looks_binary(std::string_view head) {
  std::size_t controls = 0;
  for (char c : head) {
    auto b = static_cast<unsigned char>(c);
    if (b == 0) return true;
    bool space = b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v';
    if ((b < 0x20 && !space && b != 0x1b) || b == 0x7f) ++controls;
  }
  return controls * 16 > head.size();
}

// Two ASCII characters in UTF-16 without a BOM ("{\0\"\0": little-endian at 0, big-endian
// at 1): printable bytes at `at` and `at` + 2, NUL bytes beside them.
bool ascii_in_utf16(std::string_view head, std::size_t at) {
  if (head.size() < 4) return false;
  auto printable = [](char c) { return c >= 0x20 && c < 0x7f; };
  std::size_t zero = at == 0 ? 1 : 0;
  return printable(head[at]) && printable(head[at + 2]) && head[zero] == 0 && head[zero + 2] == 0;
}

} // namespace

std::string input_format_hint(std::string_view head, bool ids) {
  std::string what = ids ? "the --ids list" : "the manifest";
  std::string command = ids ? "jobpatch apply --ids - ..." : "jobpatch apply -";
  for (const auto& m : magic_numbers) {
    bool bzip2 = m.bytes == "BZh";
    if (!head.starts_with(m.bytes)) continue;
    if (bzip2 && (head.size() < 4 || head[3] < '1' || head[3] > '9')) continue;
    std::string hint = what + " looks ";
    hint += m.name;
    hint += m.reader == "unzip -p" ? ": extract it first, e.g. " : ": decompress it first, e.g. ";
    hint += m.reader;
    hint += " FILE | ";
    return hint += command;
  }
  bool utf16 = head.starts_with("\xff\xfe") || head.starts_with("\xfe\xff") ||
               ascii_in_utf16(head, 0) || ascii_in_utf16(head, 1);
  if (utf16)
    return what +
           " looks UTF-16 encoded: convert it to UTF-8 first, e.g. iconv -f UTF-16 -t "
           "UTF-8 FILE | " +
           command;
  if (looks_binary(head))
    return what + " looks binary, not text" +
           (ids ? std::string(" (one job id per line)") : " (one JSON object per line)") +
           ": is it the file you meant?";
  return {};
}

void line_source::reject(invalid_line& error) const {
  if (lines_read_ == 1) {
    std::string hint = input_format_hint(reader_.head(), reader_.reads_ids());
    if (!hint.empty()) {
      error.message += "; " + hint;
      error.not_ndjson = true;
    }
  }
  if (options_.on_invalid) options_.on_invalid(error);
}

line_source::line_source(manifest_reader reader, options o)
    : reader_(std::move(reader)), options_(std::move(o)) {}

std::uint32_t line_source::shard_of(std::string_view job_id, std::uint32_t shard_count) noexcept {
  if (shard_count <= 1) return 0;
  return static_cast<std::uint32_t>(fingerprint_of(0, job_id, op_kind::configs, {}) % shard_count);
}

bool line_source::next(source_item& item) {
  while (reader_.next(line_)) {
    ++lines_read_;
    if (line_.oversized) {
      item.valid = false;
      item.error.line = line_.number;
      item.error.job_id.clear();
      item.error.op.reset();
      item.error.message = "line is " + std::to_string(line_.oversized) +
                           " bytes, over the limit of " + std::to_string(reader_.max_line_bytes()) +
                           " (--max-line-bytes raises it)";
      item.error.not_ndjson = false;
      reject(item.error);
      // The job is unknown, so every shard reports it: a bad line is never lost.
      return true;
    }
    item.valid = validator_.validate(line_.text, line_.readable, line_.number, item.op);
    const std::string& job_id = item.valid ? item.op.job_id : validator_.error().job_id;
    if (options_.shard_count > 1 && !job_id.empty() &&
        shard_of(job_id, options_.shard_count) != options_.shard_index)
      continue;
    // `item` may be reused: reset what this line may not set (capacities are kept).
    item.already_applied = item.changed = item.withheld_before = false;
    item.failed_before = 0;
    item.raw_line.clear();
    item.op.seq = 0;
    if (!item.valid) {
      item.error = validator_.error();
      reject(item.error);
      return true;
    }
    item.op.only_update = false;
    if (options_.number_updates || options_.repeated_jobs) {
      std::uint64_t job = job_hash_of(item.op.job_id);
      std::uint32_t seq = 0;
      if (options_.repeated_jobs) {
        seq = options_.repeated_jobs->bump_known(job);
        item.op.only_update = seq == 0; // the first pass saw this job once
        seq = std::max<std::uint32_t>(1, seq);
      } else {
        seq = job_updates_.bump(job);
      }
      if (options_.number_updates) {
        // The key a resume looks for: this update's place among its job's updates, not the
        // line number, so lines of other jobs may come and go.
        item.op.seq = seq;
        item.op.fingerprint = fingerprint_of(seq, item.op.job_id, item.op.op, item.op.body);
        if (options_.filter) options_.filter->mark(item);
      }
    }
    if (options_.keep_raw_lines) item.raw_line.assign(line_.text);
    return true;
  }
  return false;
}

} // namespace jobpatch
