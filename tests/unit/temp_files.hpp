#pragma once
// Files for the unit tests that read or write one: a fresh path under /tmp, a file holding
// given text, and a file's whole text. The caller removes what it made.

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

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

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

} // namespace jobpatch::test
