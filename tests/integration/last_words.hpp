#pragma once
// Test support: what a run leaves besides its records, read back: the summary JSON
// (--summary-json) and the samples of the metrics file (--metrics-file), and the check
// that both say how the run ended.

#include "mock_process.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>

namespace jobpatch::test {

// "name{labels} value" samples of a metrics file.
inline std::map<std::string, double> samples_of(const std::string& path) {
  std::map<std::string, double> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

inline boost::json::object summary_of(const std::string& path) {
  std::string text = read_file(path);
  INFO(path, ": ", text);
  REQUIRE_FALSE(text.empty());
  return boost::json::parse(text).as_object();
}

// The summary (mock.path("s.json")) and metrics (mock.path("m.prom")) of a finished run
// both carry `code`.
inline void check_last_words(const mock_process& mock, int code) {
  auto summary = summary_of(mock.path("s.json"));
  CHECK(summary.at("exitCode").as_int64() == code);
  auto metrics = samples_of(mock.path("m.prom"));
  CHECK(metrics["jobpatch_exit_code"] == code);
  CHECK(metrics["jobpatch_run_in_progress"] == 0);
}

} // namespace jobpatch::test
