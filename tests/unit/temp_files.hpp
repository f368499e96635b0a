#pragma once
// Files for the unit tests that read or write one: a fresh path under /tmp, a file holding
// given text, a fresh directory, and a file's whole text. The caller removes the files it
// made (a temp_dir removes itself).

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

namespace jobpatch::test {

// A new empty file's path, "/tmp/jobpatch-<what>-XXXXXX".
inline std::string temp_path(const std::string& what = "unit") {
  std::string name = "/tmp/jobpatch-" + what + "-XXXXXX";
  int fd = ::mkstemp(name.data());
  REQUIRE(fd >= 0);
  ::close(fd);
  return name;
}

// A new file holding `content`.
inline std::string temp_file(const std::string& content, const std::string& what = "unit") {
  std::string path = temp_path(what);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// A new empty directory, "/tmp/jobpatch-<what>-XXXXXX", removed with all it holds when
// this goes.
struct temp_dir {
  std::string path;
  explicit temp_dir(const std::string& what = "unit") : path("/tmp/jobpatch-" + what + "-XXXXXX") {
    REQUIRE(::mkdtemp(path.data()) != nullptr);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string operator/(const std::string& name) const { return path + "/" + name; }
  // The names it holds, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path))
      out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace jobpatch::test
