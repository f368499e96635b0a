#pragma once
// What `apply`, `validate` and `bench` check before anything is sent: that no output is
// also an input or another output (compared as files, not as strings), that every output
// can be written, that one run at a time uses a results file, and that the descriptors
// the connections need are there.

#include <string>
#include <vector>

#include <sys/stat.h>

namespace jobpatch::cli {

// A file named on the command line: `flag` ("--results", "manifest") names it in messages.
struct named_file {
  std::string flag;
  std::string path;
  // For an input already open (the manifest, stdin): its fstat, which is what counts
  // however it was spelled. Otherwise the path is looked up.
  const struct stat* opened = nullptr;
  // Created 0600 when it does not exist yet (it may hold what others must not read).
  bool owner_only = false;
};

// Refuses (cli_error, exit 2) unless every output is a file of its own and can be created
// or written. The message names the clash or the reason (with the errno text), e.g.
// "--failed-out m.ndjson is the manifest (m.ndjson)", then "; `consequence`" when given
// ("nothing was sent"). Empty outputs are ignored; "-" is standard output: two of them
// clash, and one redirected to a file is compared as that file.
// `replaced_by_rename` outputs (the metrics file, a summary: replacing_file, written
// through a temporary file beside it) need a writable directory, unless they are written
// in place (a FIFO, a device); the others are opened for writing without truncating.
void check_outputs(const std::vector<named_file>& inputs, const std::vector<named_file>& outputs,
                   const std::string& consequence = {},
                   const std::vector<std::string>& replaced_by_rename = {});

// An advisory lock (flock) on an output one run appends to (--results, --undo-out), held
// while this object lives: a second run on the same file would interleave its lines.
class output_lock {
public:
  output_lock() = default;
  // Creates `path` (mode `mode`) when missing and locks it without waiting; `flag` names
  // it in messages. Refuses (cli_error, exit 2, the message ending "; nothing was sent")
  // when it cannot, or another run holds it.
  output_lock(const std::string& flag, const std::string& path, mode_t mode = 0644);
  ~output_lock();
  output_lock(const output_lock&) = delete;
  output_lock& operator=(const output_lock&) = delete;

private:
  int fd_ = -1;
};

// "<path>.N" for the first N (1, 2, ...) that names no file: where --force-undo keeps an
// undo file's lines. Empty when every N up to 9999 is taken.
std::string first_free_numbered(const std::string& path);
// Renames `path` to the first free "<path>.N", never over another file (renameat2's
// RENAME_NOREPLACE; link and unlink where the file system lacks it: a taken name moves on
// to the next N), and fsyncs the directory. Returns the new name. Throws
// std::system_error naming both files; `path` then holds what it held.
std::string move_to_numbered(const std::string& path);

// Raises the soft RLIMIT_NOFILE to the hard limit (once, at start).
void raise_descriptor_limit();
// Refuses (cli_error, exit 2) unless `connections` (plus the run's own files) fit in the
// descriptor limit, naming the limit and the largest --connections that fits.
void check_descriptors(unsigned connections);

} // namespace jobpatch::cli
