// A file replaced whole (the summary, a report, the metrics, merged results): a reader
// sees the old file or the new one, never a part, and nothing is left behind (issue 23).

#include <jobpatch/results/file_writer.hpp>

#include "unit/temp_files.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace jobpatch;
using jobpatch::test::slurp;
using jobpatch::test::temp_dir;
namespace fs = std::filesystem;

namespace {

void put(const std::string& path, const std::string& text, mode_t mode = 0644) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
  ::chmod(path.c_str(), mode);
}

// While it lives, a write past `bytes` into any file fails with EFBIG (SIGXFSZ ignored):
// a disk that fills part way through a file.
struct file_size_limit {
  rlimit old{};
  struct sigaction old_action {};
  explicit file_size_limit(rlim_t bytes) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ignore, &old_action);
    ::getrlimit(RLIMIT_FSIZE, &old);
    rlimit limit = old;
    limit.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~file_size_limit() {
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::sigaction(SIGXFSZ, &old_action, nullptr);
  }
};

std::string summary_of(std::size_t bytes) {
  std::string text = "{\"runId\":\"";
  while (text.size() + 3 < bytes) text += static_cast<char>('a' + text.size() % 26);
  return text + "\"}\n";
}

} // namespace

TEST_CASE("replacing_file: a write that fails part way leaves the earlier file whole and no "
          "temporary file") {
  temp_dir dir("replacing");
  std::string target = dir / "summary.json";
  put(target, "{\"earlier\":true}\n", 0640);
  {
    file_size_limit limit(4096);
    CHECK_THROWS_AS(write_file_atomically(target, summary_of(10000)), std::system_error);
  }
  CHECK(slurp(target) == "{\"earlier\":true}\n");
  CHECK(dir.names() == std::vector<std::string>{"summary.json"});

  // Whole, with the earlier file's permissions, and nothing beside it.
  std::string next = summary_of(200000); // more than file_writer buffers at once
  write_file_atomically(target, next);
  CHECK(slurp(target) == next);
  struct stat st {};
  REQUIRE(::stat(target.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(dir.names() == std::vector<std::string>{"summary.json"});
}

TEST_CASE("replacing_file: not committed, the earlier file stays and the temporary goes") {
  temp_dir dir("replacing");
  std::string target = dir / "merged.ndjson";
  put(target, "old\n");
  {
    replacing_file file(target);
    file.out().write("new, never committed\n");
    file.out().flush();
    CHECK(dir.names().size() == 2); // the temporary file, beside it
  }
  CHECK(slurp(target) == "old\n");
  CHECK(dir.names() == std::vector<std::string>{"merged.ndjson"});
  // A rename that fails (over a directory) leaves nothing either.
  fs::create_directories(fs::path(dir / "blocked") / "inside");
  CHECK_THROWS_AS(write_file_atomically(dir / "missing/s.json", "x"), std::system_error);
  CHECK_THROWS_AS(write_file_atomically(dir / "blocked", "x"), std::system_error);
  CHECK(dir.names() == std::vector<std::string>{"blocked", "merged.ndjson"});
}

TEST_CASE("replacing_file: a FIFO is written in place, a symlink stays one") {
  temp_dir dir("replacing");
  std::string fifo = dir / "summary.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  REQUIRE(reader >= 0);
  write_file_atomically(fifo, "{\"total\":1}\n");
  char buffer[64] = {};
  CHECK(::read(reader, buffer, sizeof buffer) == 12);
  CHECK(std::string(buffer) == "{\"total\":1}\n");
  ::close(reader);
  struct stat st {};
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));

  fs::create_directory(dir / "state");
  put(dir / "state/summary.json", "old\n");
  fs::create_symlink("state/summary.json", dir / "summary.json");
  write_file_atomically(dir / "summary.json", "new\n");
  CHECK(fs::is_symlink(dir / "summary.json"));
  CHECK(slurp(dir / "state/summary.json") == "new\n");
  CHECK(std::distance(fs::directory_iterator(dir / "state"), fs::directory_iterator()) == 1);
  CHECK(dir.names() == std::vector<std::string>{"state", "summary.fifo", "summary.json"});
}
