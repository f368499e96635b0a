// The main of every doctest executable: doctest's own, plus exit code 77 (ctest:
// "Skipped") when nothing failed and a test case skipped itself (tests/test_skip.hpp), and
// a failure when a run filtered by name (--test-case, as ctest runs each case) matches no
// test case: a name holding ';' (CMake's list separator) reached ctest cut in two, and
// both halves "passed" without running anything.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "test_skip.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
int skipped_cases = 0; // doctest runs test cases one after another, on the main thread
unsigned cases_matched = 0;

// Learns how many test cases passed the filters; reports nothing itself.
struct match_counter : doctest::IReporter {
  explicit match_counter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    cases_matched = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
DOCTEST_REGISTER_LISTENER("match_counter", 1, match_counter);

bool filtered_by_name(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    for (std::string_view flag : {"--test-case=", "-tc=", "--dt-test-case=", "--dt-tc="})
      if (arg.starts_with(flag)) return true;
  }
  return false;
}
} // namespace

namespace jobpatch::test {

void skip(std::string_view reason, std::source_location where) {
  ADD_MESSAGE_AT(where.file_name(), static_cast<int>(where.line()), "skipped: " << reason);
  ++skipped_cases;
}

bool pretend_missing(std::string_view thing) {
  const char* missing = std::getenv("JOBPATCH_TEST_MISSING");
  if (!missing) return false;
  std::string_view list(missing);
  while (!list.empty()) {
    auto comma = list.find(',');
    if (list.substr(0, comma) == thing) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

} // namespace jobpatch::test

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  int status = context.run();
  if (context.shouldExit() || status != 0) return status;
  if (cases_matched == 0 && filtered_by_name(argc, argv)) {
    std::printf("[doctest] no test case matches the --test-case filter: exit 1 (a test name "
                "must not hold ';', which CMake takes for a list separator)\n");
    return 1;
  }
  if (skipped_cases == 0) return status;
  std::printf("[doctest] %d test case%s skipped: exit %d\n", skipped_cases,
              skipped_cases == 1 ? "" : "s", jobpatch::test::skipped_exit_code);
  return jobpatch::test::skipped_exit_code;
}
