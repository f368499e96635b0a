#pragma once
// The manifest as a stream of validated updates and rejected lines: reader, validator
// and shard filter in one pull loop. Used by `validate` and by the apply engine's reader.

#include <jobpatch/manifest/line_validator.hpp>
#include <jobpatch/manifest/manifest_reader.hpp>
#include <jobpatch/manifest/update_counter.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace jobpatch {

// One manifest line after validation.
struct source_item {
  bool valid = false;
  operation op;         // when valid
  invalid_line error;   // when not valid
  std::string raw_line; // the line as written (without its line end), when valid and kept
  // The rest is set by line_source::options::filter (apply --resume: the resume filter in
  // src/cli/resume_filter.hpp); false and 0 without one.
  // --resume: recorded ok earlier with the same content, and no earlier line of its job
  // is sent again in this run (which would make this one need re-applying too).
  bool already_applied = false;
  bool changed = false; // --resume: recorded ok earlier, but the line differs now
  // --resume: its last record failed for good (HTTP 400/403/404; the status) and it is
  // not sent again (unless --retry-failed); 0 = no.
  int failed_before = 0;
  bool withheld_before = false; // --resume: its last record is a withholding
};

// Marks a valid, numbered update (its verdict fields above) before line_source hands it
// out, so every reader of one source sees the same marks. Called on the reading thread.
class update_filter {
public:
  virtual void mark(source_item& item) = 0;

protected:
  ~update_filter() = default;
};

// What `head`, an input's first bytes (manifest_reader::head), looks like when it is not
// NDJSON text, and how to feed it: "the manifest looks gzip-compressed: decompress it
// first, e.g. zcat FILE | jobpatch apply -" (zstd, xz, bzip2 and zip too), UTF-16 text,
// binary data (a NUL byte, or control bytes in more than one of 16). Empty when it may
// be text. `ids`: the input is an --ids list.
std::string input_format_hint(std::string_view head, bool ids);

class line_source {
public:
  struct options {
    std::size_t max_line_bytes = manifest_reader::default_max_line_bytes;
    std::uint32_t shard_index = 0, shard_count = 1; // keep jobs whose id hashes to index
    bool keep_raw_lines = false;                    // fill source_item::raw_line
    update_filter* filter = nullptr;                // marks each numbered update (--resume)
    // Number each job's updates (operation::seq) and key them by it: needed by every run
    // that writes results; costs 10-15 bytes per distinct job (see job_updates_).
    bool number_updates = true;
    // When set, the jobs that may have more than one update (a first pass found them, see
    // repeat_finder): only these are counted, any other job's update is its first (seq 1)
    // and only one (operation::only_update).
    update_counter* repeated_jobs = nullptr;
    // Called (on the reading thread) with every invalid line of this shard, in order: a
    // stream is not validated beforehand, so this is where its errors are shown.
    std::function<void(const invalid_line&)> on_invalid;
  };

  line_source(manifest_reader reader, options o);

  // Fills `item` with the next line of this shard; false at the end of input. An invalid
  // first line whose input does not look like NDJSON (input_format_hint) says so in its
  // message and is marked invalid_line::not_ndjson.
  bool next(source_item& item);

  // Lines read so far (all shards, blank lines excluded).
  std::uint64_t lines_read() const noexcept { return lines_read_; }
  manifest_reader& reader() noexcept { return reader_; }

  // The shard a job belongs to (stable across runs and machines).
  static std::uint32_t shard_of(std::string_view job_id, std::uint32_t shard_count) noexcept;

private:
  // An invalid line: the first one's error ends with input_format_hint when there is one;
  // options_.on_invalid hears of it.
  void reject(invalid_line& error) const;

  manifest_reader reader_;
  line_validator validator_;
  options options_;
  manifest_line line_;
  std::uint64_t lines_read_ = 0;
  // Valid updates seen per job (by job_hash_of): 10-15 bytes per distinct job of this
  // shard, the floor of an exact count (see update_counter).
  update_counter job_updates_;
};

} // namespace jobpatch
