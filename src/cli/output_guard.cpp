#include "cli/output_guard.hpp"

#include "cli/cli_error.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace jobpatch::cli {
namespace {

// How a file is told apart: device and inode when it exists, else the resolved path it
// will be created at.
struct file_identity {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string resolved;
  bool operator==(const file_identity& o) const {
    return exists == o.exists && (exists ? dev == o.dev && ino == o.ino : resolved == o.resolved);
  }
};

std::string errno_text(int e) { return std::strerror(e); }

std::string parent_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The directory a rename replaces `path` in (see replacing_file: beside the file a symlink
// names); empty when it is written in place (a FIFO, a device, a symlink to nothing yet).
std::string rename_directory(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    struct stat link {};
    return ::lstat(path.c_str(), &link) == 0 ? std::string() : parent_of(path);
  }
  if (!S_ISREG(st.st_mode)) return {};
  char resolved[PATH_MAX];
  return parent_of(::realpath(path.c_str(), resolved) ? std::string(resolved) : path);
}

// The identity of `file`, or nullopt with `error` set when its directory is missing.
std::optional<file_identity> identify(const named_file& file, std::string& error) {
  file_identity id;
  struct stat st {};
  if (file.opened) {
    st = *file.opened;
  } else if (::stat(file.path.c_str(), &st) != 0) {
    int e = errno;
    std::string dir = parent_of(file.path);
    char resolved[PATH_MAX];
    if (e != ENOENT || !::realpath(dir.c_str(), resolved)) {
      if (e == ENOENT) e = errno;
      error = file.flag + " " + file.path + ": " +
              (e == ENOENT ? "no such directory " + dir : errno_text(e));
      return std::nullopt;
    }
    auto slash = file.path.find_last_of('/');
    id.resolved = std::string(resolved) + "/" +
                  (slash == std::string::npos ? file.path : file.path.substr(slash + 1));
    return id;
  }
  id.exists = true;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  return id;
}

std::string describe(const named_file& f) {
  return f.flag == "manifest" ? "the manifest (" + f.path + ")" : f.flag + " (" + f.path + ")";
}

// Why the outputs cannot be used (see check_outputs), or empty.
std::string output_problem(const std::vector<named_file>& inputs,
                           const std::vector<named_file>& outputs,
                           const std::vector<std::string>& replaced_by_rename) {
  std::vector<std::pair<const named_file*, file_identity>> seen;
  std::string error;
  for (const auto& input : inputs) {
    if (input.path.empty() && !input.opened) continue;
    auto id = identify(input, error);
    if (id) seen.emplace_back(&input, *id); // a missing input is reported where it is read
    error.clear();
  }
  std::size_t inputs_seen = seen.size();
  const named_file* to_stdout = nullptr;
  for (const auto& output : outputs) {
    if (output.path.empty()) continue;
    std::optional<file_identity> id;
    if (output.path == "-") {
      // Standard output holds one output only; and when it is redirected to a file, that
      // file is compared like any other (`--results - > manifest.ndjson`).
      if (to_stdout)
        return output.flag + " - and " + to_stdout->flag +
               " - both write to standard output: every output needs a file of its own";
      to_stdout = &output;
      struct stat st {};
      if (::fstat(STDOUT_FILENO, &st) != 0 || !S_ISREG(st.st_mode)) continue;
      named_file redirected{output.flag, "-", &st};
      id = identify(redirected, error);
    } else {
      id = identify(output, error);
    }
    if (!id) return error;
    for (std::size_t i = 0; i < seen.size(); ++i)
      if (seen[i].second == *id)
        return output.flag + " " + output.path + " is " + describe(*seen[i].first) +
               (i < inputs_seen ? ": it would be overwritten; pick another file"
                                : ": every output needs a file of its own");
    seen.emplace_back(&output, *id);
  }
  // Only once every name is compared: probing creates files, which would change how a
  // later spelling of the same file is identified.
  for (const auto& output : outputs) {
    if (output.path.empty() || output.path == "-") continue;
    struct stat st {};
    if (::stat(output.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return output.flag + " " + output.path + " is a directory; name a file";
    bool listed = std::find(replaced_by_rename.begin(), replaced_by_rename.end(), output.flag) !=
                  replaced_by_rename.end();
    if (std::string dir = listed ? rename_directory(output.path) : std::string(); !dir.empty()) {
      if (::access(dir.c_str(), W_OK) != 0)
        return output.flag + " " + output.path + ": cannot write in " + dir + ": " +
               errno_text(errno);
      continue;
    }
    // Opened without truncating: an existing file keeps its content until it is written.
    int fd = ::open(output.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK,
                    output.owner_only ? 0600 : 0644);
    if (fd < 0) return output.flag + " " + output.path + ": cannot write: " + errno_text(errno);
    ::close(fd);
  }
  return {};
}

} // namespace

void check_outputs(const std::vector<named_file>& inputs, const std::vector<named_file>& outputs,
                   const std::string& consequence,
                   const std::vector<std::string>& replaced_by_rename) {
  std::string why = output_problem(inputs, outputs, replaced_by_rename);
  if (!why.empty()) refuse(consequence.empty() ? why : why + "; " + consequence);
}

output_lock::output_lock(const std::string& flag, const std::string& path, mode_t mode) {
  auto refuse_run = [&](const std::string& why) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    refuse(flag + " " + path + why + "; nothing was sent");
  };
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode);
  if (fd_ < 0) {
    int e = errno;
    struct stat st {};
    refuse_run(::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)
                   ? ": is a directory; name a file"
                   : ": cannot open: " + errno_text(e));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  int e = errno;
  if (e != EWOULDBLOCK) refuse_run(": cannot lock: " + errno_text(e));
  // The holder, from /proc/locks ("1: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> ...").
  struct stat st {};
  ::fstat(fd_, &st);
  char key[64];
  std::snprintf(key, sizeof key, "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long>(st.st_ino));
  std::string holder;
  std::ifstream locks("/proc/locks");
  for (std::string line; std::getline(locks, line);) {
    if (line.find("FLOCK") == std::string::npos || line.find("->") != std::string::npos) continue;
    std::istringstream fields(line);
    std::string number, kind, advisory, access, pid, file;
    fields >> number >> kind >> advisory >> access >> pid >> file;
    if (file == key) {
      holder = pid;
      break;
    }
  }
  refuse_run(" is in use by another jobpatch run" +
             (holder.empty() ? "" : " (pid " + holder + ")") +
             "; wait for it to finish, or give this run a file of its own");
}

output_lock::~output_lock() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

constexpr unsigned most_numbered = 9999;

std::string numbered(const std::string& path, unsigned n) { return path + "." + std::to_string(n); }

void sync_directory_of(const std::string& path) {
  int fd = ::open(parent_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// `from` renamed `to` unless `to` exists; 0, or the errno (EEXIST: `to` is taken).
int rename_no_replace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // A file system without RENAME_NOREPLACE: a second name (never over a file), then the
  // first one removed; when that fails, the second goes again.
  if (::link(from.c_str(), to.c_str()) != 0) return errno;
  if (::unlink(from.c_str()) == 0) return 0;
  int e = errno;
  ::unlink(to.c_str());
  return e;
}

} // namespace

std::string first_free_numbered(const std::string& path) {
  struct stat st {};
  for (unsigned n = 1; n <= most_numbered; ++n)
    if (::lstat(numbered(path, n).c_str(), &st) != 0 && errno == ENOENT) return numbered(path, n);
  return {};
}

std::string move_to_numbered(const std::string& path) {
  for (unsigned n = 1; n <= most_numbered; ++n) {
    std::string to = numbered(path, n);
    int e = rename_no_replace(path, to);
    if (e == 0) {
      sync_directory_of(path);
      return to;
    }
    if (e != EEXIST)
      throw std::system_error(e, std::generic_category(), "cannot rename " + path + " to " + to);
  }
  throw std::system_error(EEXIST, std::generic_category(),
                          "cannot rename " + path + ": " + numbered(path, 1) + " to " +
                              numbered(path, most_numbered) + " all exist");
}

void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void check_descriptors(unsigned connections) {
  // Besides one socket per connection: stdio, the manifest, the outputs, the resolver and
  // the token exchange's connection, with room to spare.
  constexpr unsigned own_files = 32;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  if (connections + own_files <= limit.rlim_cur) return;
  auto most = limit.rlim_cur > own_files ? limit.rlim_cur - own_files : 0;
  refuse("--connections " + std::to_string(connections) + " needs more open files than the " +
         "limit of " + std::to_string(limit.rlim_cur) + " (ulimit -n): use --connections " +
         std::to_string(most) + " or fewer, or raise the limit");
}

} // namespace jobpatch::cli
