// The examples in step with the program: every exit code of apply is named in each
// example's comment and handled by its policy (systemd's exit statuses, Kubernetes'
// podFailurePolicy), by the constants of cli_error.hpp; Documentation= names pages that
// `cmake --install` installs; the README's table lists the same codes.

#include "cli/cli_error.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace jobpatch::cli;

// A set of exit codes as a failed CHECK shows it: "{0, 1, 2}".
template <>
struct doctest::StringMaker<std::set<int>> {
  static doctest::String convert(const std::set<int>& codes) {
    std::string text;
    for (int code : codes) text += (text.empty() ? "{" : ", ") + std::to_string(code);
    return (text.empty() ? std::string("{}") : text + "}").c_str();
  }
};

namespace {

std::string source_file(const std::string& path) {
  std::ifstream in(std::string(JOBPATCH_SOURCE_DIR) + "/" + path);
  REQUIRE_MESSAGE(in, "cannot read " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The numbers in `text` ("[3, 4, 130, 143]", "130 143", "130/143").
std::set<int> numbers_in(const std::string& text) {
  std::set<int> out;
  std::string digits;
  for (char c : text + " ") {
    if (c >= '0' && c <= '9') {
      digits += c;
    } else if (!digits.empty()) {
      out.insert(std::stoi(digits));
      digits.clear();
    }
  }
  return out;
}

// Every code apply exits with (`jobpatch apply --help`).
const std::set<int> apply_codes = {exit_ok,      exit_some_failed,   exit_usage,
                                   exit_aborted, exit_output_failed, 128 + SIGINT,
                                   128 + SIGTERM};

// The codes a comment block lists, one per line as "#   CODE  what" (or "# CODE/CODE"),
// from the line starting with `heading` to the end of the block.
std::set<int> codes_in_comment(const std::string& text, const std::string& heading) {
  std::set<int> codes;
  bool in_block = false;
  for (const auto& line : lines_of(text)) {
    if (line.starts_with(heading)) {
      in_block = true;
      continue;
    }
    if (!in_block) continue;
    if (!line.starts_with("#")) break;
    std::string rest = line.substr(1);
    auto first = rest.find_first_not_of(' ');
    if (first == std::string::npos || first < 2) continue; // a sentence, not a code's line
    auto end = rest.find(' ', first);
    std::string word = rest.substr(first, end - first);
    if (word.find_first_not_of("0123456789/") == std::string::npos)
      for (int code : numbers_in(word)) codes.insert(code);
  }
  return codes;
}

// The value of systemd directive `name` ("SuccessExitStatus") in `unit`; "" when absent.
std::string directive(const std::string& unit, const std::string& name) {
  for (const auto& line : lines_of(unit))
    if (line.starts_with(name + "=")) return line.substr(name.size() + 1);
  return {};
}

// A podFailurePolicy's exit codes by action ("FailJob" -> {1, 2}), from its `- action:`
// lines and the `values: [...]` of their onExitCodes.
std::map<std::string, std::set<int>> policy_of(const std::string& yaml) {
  std::map<std::string, std::set<int>> out;
  std::string action;
  for (const auto& line : lines_of(yaml)) {
    auto at = line.find("- action: ");
    if (at != std::string::npos && line.find('#') > at) action = line.substr(at + 10);
    auto values = line.find("values: [");
    if (values != std::string::npos && !action.empty())
      for (int code : numbers_in(line.substr(values))) out[action].insert(code);
  }
  return out;
}

std::set<int> all_of(const std::map<std::string, std::set<int>>& policy) {
  std::set<int> out;
  for (const auto& [action, codes] : policy) out.insert(codes.begin(), codes.end());
  return out;
}

} // namespace

TEST_CASE("examples: the systemd unit names every exit code and handles each") {
  std::string unit = source_file("examples/systemd/jobpatch.service");
  CHECK(codes_in_comment(unit, "# Exit codes") == apply_codes);
  // Interrupted (a shutdown, systemctl stop) is no failure: the next run resumes.
  CHECK(numbers_in(directive(unit, "SuccessExitStatus")) ==
        std::set<int>{128 + SIGINT, 128 + SIGTERM});
  // Restarted on failure, except what a restart meets again: failed lines, a refusal.
  CHECK(directive(unit, "Restart") == "on-failure");
  CHECK(numbers_in(directive(unit, "RestartPreventExitStatus")) ==
        std::set<int>{exit_some_failed, exit_usage});
  CHECK_FALSE(directive(unit, "StartLimitBurst").empty()); // restarts are bounded
  // Documentation= names man pages that are installed (cmake/install.cmake's man_specs).
  std::string install = source_file("cmake/install.cmake");
  std::istringstream documentation(directive(unit, "Documentation"));
  int pages = 0;
  for (std::string uri; documentation >> uri; ++pages) {
    INFO(uri);
    REQUIRE(uri.starts_with("man:"));
    REQUIRE(uri.ends_with("(1)"));
    std::string page = uri.substr(4, uri.size() - 7);
    CHECK(install.find("\"" + page + "|") != std::string::npos);
  }
  CHECK(pages >= 1);
}

TEST_CASE("examples: the CronJob names every exit code and its podFailurePolicy covers each") {
  std::string cronjob = source_file("examples/kubernetes/cronjob.yaml");
  CHECK(codes_in_comment(cronjob, "# Exit codes") == apply_codes);
  auto policy = policy_of(cronjob);
  std::set<int> failing = apply_codes;
  failing.erase(exit_ok);
  CHECK(all_of(policy) == failing);
  CHECK(policy["FailJob"] == std::set<int>{exit_some_failed, exit_usage});
  CHECK(policy["Count"] ==
        std::set<int>{exit_aborted, exit_output_failed, 128 + SIGINT, 128 + SIGTERM});
}

TEST_CASE("examples: the Indexed Job names every exit code and its podFailurePolicy covers each") {
  std::string job = source_file("examples/kubernetes/indexed-job.yaml");
  CHECK(codes_in_comment(job, "# Exit codes") == apply_codes);
  std::set<int> failing = apply_codes;
  failing.erase(exit_ok);
  CHECK(all_of(policy_of(job)) == failing);
}

TEST_CASE("examples: the README's exit-code table lists the same codes") {
  std::set<int> rows;
  bool in_table = false;
  for (const auto& line : lines_of(source_file("README.md"))) {
    if (line.starts_with("Exit codes (also in `jobpatch apply --help`)")) in_table = true;
    if (!in_table || !line.starts_with("| ")) {
      if (in_table && !rows.empty()) break;
      continue;
    }
    std::string code = line.substr(2, line.find(" |", 2) - 2);
    if (code.find_first_not_of("0123456789/") == std::string::npos)
      for (int c : numbers_in(code)) rows.insert(c);
  }
  CHECK(rows == apply_codes);
}
