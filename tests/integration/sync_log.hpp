#pragma once
// Test support: what slow_sync.c logs with SYNC_LOG set, the fdatasync, fsync and syncfs
// calls of a program run with it preloaded. Only where the shim is built (not with
// sanitizers): guard its use with #if defined(JOBPATCH_SLOW_SYNC_SO).
//
//   std::string log = mock.path("run.syncs");
//   auto env = sync_log_env(log);   // plus the program's own variables
//   ... run jobpatch with env ...
//   auto syncs = sync_calls(log, "fdatasync", undo_path);

#include "child_process.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace jobpatch::test {

struct sync_call {
  std::string call;      // fdatasync, fsync or syncfs
  std::int64_t size = 0; // the file's size when it was called (-1: unknown)
  std::string path;      // the file, as /proc/self/fd names it
};

#if defined(JOBPATCH_SLOW_SYNC_SO)
// The environment that preloads the shim to log into `log` without stalling.
inline std::map<std::string, std::string> sync_log_env(const std::string& log) {
  return {{"LD_PRELOAD", JOBPATCH_SLOW_SYNC_SO}, {"SYNC_LOG", log}, {"SLOW_SYNC_MS", "0"}};
}
#endif

// The calls of the log `log` (none when it does not exist), in the order they were made;
// only those named `call` on `path` when these are not empty (`path` is made absolute and
// free of symbolic links first, as /proc/self/fd shows it).
inline std::vector<sync_call> sync_calls(const std::string& log, const std::string& call = {},
                                         std::string path = {}) {
  if (!path.empty()) path = std::filesystem::weakly_canonical(path).string();
  std::vector<sync_call> out;
  std::istringstream lines(read_file(log));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    sync_call c;
    fields >> c.call >> c.size;
    fields.get(); // the space before the path, which may hold spaces itself
    std::getline(fields, c.path);
    if ((call.empty() || c.call == call) && (path.empty() || c.path == path))
      out.push_back(std::move(c));
  }
  return out;
}

} // namespace jobpatch::test
